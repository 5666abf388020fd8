import { describe, expect, it } from "vitest";
import { guideFor } from "../src/ui/capture/guides.ts";
import { FIELDS } from "../src/ui/sequence/schema.ts";

describe("viewfinder guides follow the region", () => {
  it("never frames a hand with a face outline", () => {
    expect(guideFor("hand", "hand_dorsal")).toBe("hand");
    expect(guideFor("hand", "frontal")).toBe("hand");
    expect(guideFor("nose", "frontal")).toBe("face");
    expect(guideFor("abdomen", "right_oblique")).toBe("torso");
    expect(guideFor("foot", "frontal")).toBe("foot");
    expect(guideFor("nose", "operative_field")).toBe("field");
    expect(guideFor("face", "additional")).toBe("field");
  });

  it("has a guide for every region of the schema, and only regions of the face get the face outline", () => {
    const regions = FIELDS.find((f) => f.key === "anatomical_region")!.options.map((o) => o.value);
    const face = new Set(["face", "nose", "eyelids", "neck", "scalp"]);
    for (const r of regions) {
      const g = guideFor(r, "frontal");
      expect(g).not.toBe("field");
      expect(g === "face").toBe(face.has(r));
    }
  });
});
