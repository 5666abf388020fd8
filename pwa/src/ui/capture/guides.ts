// Which framing outline the viewfinder draws: it follows the anatomical region of the sequence
// (a hand is not framed like a face) and steps aside for views that frame no body part. Pure.

export type GuideShape = "face" | "torso" | "limb" | "hand" | "foot" | "field";

const BY_REGION: Record<string, GuideShape> = {
  face: "face", nose: "face", eyelids: "face", neck: "face", scalp: "face",
  breast: "torso", trunk: "torso", abdomen: "torso", back: "torso", perineum: "torso",
  upper_limb: "limb", lower_limb: "limb", hand: "hand", foot: "foot",
};

/** Views that show a scene, not a posed body part: a plain rectangle, whatever the region. */
const SCENE_VIEWS = new Set(["overview", "close_up", "operative_field", "additional"]);

export function guideFor(region: string | undefined, view: string): GuideShape {
  if (SCENE_VIEWS.has(view)) return "field";
  return BY_REGION[region ?? ""] ?? "field";
}
