// The clinicians' workspace, pure parts: pairing by view, landmark alignment, zoom arithmetic, consent
// rules preview, words and plurals in both languages, routes.
import { describe, expect, it } from "vitest";
import { en, fr } from "../src/i18n/messages.ts";
import {
  allowed, applySimilarity, barLengths, clampView, countWords, dateWords, delayWords, exportPreview, FIT, monthWords,
  pairByView, panBy, parseClinHash, patientHash, reasonOk, searchQuery, similarityFrom, sliderKey, viewerKey, viewsPresent,
  zoomAt, type Photo, type Sequence,
} from "../src/ui/clinician/logic.ts";
import { mayOpen, homeFor } from "../src/ui/people/Console.tsx";
import { isPeopleHash } from "../src/ui/people/PeopleApp.tsx";

process.env.TZ = "Europe/Paris";

let n = 0;
const photo = (view: string, over: Partial<Photo> = {}): Photo => ({
  id: `p${++n}`, sequence_id: "s", view, view_label: { en: view, fr: view }, captured_at: `2026-01-01T10:00:${String(n % 60).padStart(2, "0")}Z`,
  width: 4000, height: 3000, state: "verified", ...over,
});
const seq = (over: Partial<Sequence>): Sequence => ({
  id: "s1", patient_id: "P1", taken_at: "2026-01-01T10:00:00Z", performed_on: null, filed_at: "2026-01-01T11:00:00Z",
  procedure: { code: "rhinoplasty", label_en: "Rhinoplasty", label_fr: "Rhinoplastie" }, region: { code: "hand", label_en: "Hand", label_fr: "Main" },
  laterality: "left", phase: "pre_op", delay: null, consent: "record", consent_history: [], taken_by: { id: null, name: "Dr A" }, note: null,
  protocol: { id: "x", expected: [], present: [], complete: true }, photos: [], ...over,
});

describe("pairByView", () => {
  it("pairs the same view codes and lists the others on each side", () => {
    const a = [photo("frontal"), photo("right_lateral"), photo("basal")];
    const b = [photo("right_lateral"), photo("frontal"), photo("left_lateral")];
    const r = pairByView(a, b);
    expect(r.pairs.map((p) => [p.view, p.left.id, p.right.id])).toEqual([["frontal", a[0]!.id, b[1]!.id], ["right_lateral", a[1]!.id, b[0]!.id]]);
    expect(r.onlyLeft.map((p) => p.view)).toEqual(["basal"]);
    expect(r.onlyRight.map((p) => p.view)).toEqual(["left_lateral"]);
  });
  it("pairs a view once (the first taken), leaves quarantined photos out", () => {
    const a = [photo("frontal"), photo("frontal")];
    const b = [photo("frontal", { state: "quarantined" }), photo("frontal")];
    const r = pairByView(a, b);
    expect(r.pairs).toHaveLength(1);
    expect(r.pairs[0]!.left.id).toBe(a[0]!.id);
    expect(r.pairs[0]!.right.id).toBe(b[1]!.id);
    expect(r.onlyLeft.map((p) => p.id)).toEqual([a[1]!.id]);
    expect(r.onlyRight).toEqual([]);
  });
  it("has nothing to pair when one side is empty", () => {
    expect(pairByView([], [photo("frontal")])).toMatchObject({ pairs: [], onlyLeft: [], onlyRight: [{ view: "frontal" }] });
  });
});

describe("similarityFrom (two landmarks)", () => {
  it("maps both landmarks exactly, with rotation, scale and translation", () => {
    const from = [{ x: 10, y: 20 }, { x: 30, y: 20 }] as const;
    const to = [{ x: 100, y: 100 }, { x: 100, y: 140 }] as const; // rotated 90°, scaled 2
    const s = similarityFrom(from, to)!;
    expect(applySimilarity(s, from[0])).toEqual({ x: 100, y: 100 });
    const p = applySimilarity(s, from[1]);
    expect(p.x).toBeCloseTo(100);
    expect(p.y).toBeCloseTo(140);
    expect(Math.hypot(s.a, s.b)).toBeCloseTo(2);
    expect(Math.atan2(s.b, s.a)).toBeCloseTo(Math.PI / 2);
  });
  it("is the identity for identical landmarks and null for coincident ones", () => {
    const pts = [{ x: 1, y: 2 }, { x: 5, y: 9 }] as const;
    expect(similarityFrom(pts, pts)).toMatchObject({ a: 1, b: 0, tx: 0, ty: 0 });
    expect(similarityFrom([{ x: 1, y: 1 }, { x: 1, y: 1 }], pts)).toBeNull();
  });
});

describe("zoom and pan", () => {
  it("zooms about a point, which stays where it was", () => {
    const v = zoomAt(FIT, 2, 100, 50, 400, 300);
    expect(v.scale).toBe(2);
    // the image point under (100, 50) before: (100, 50); after: v.x + 2 * 100 = 100
    expect(v.x + 2 * 100).toBeCloseTo(100);
    expect(v.y + 2 * 50).toBeCloseTo(50);
  });
  it("stays between 1× and 8× and keeps the image covering its box", () => {
    expect(zoomAt(FIT, 0.5, 0, 0, 400, 300)).toEqual(FIT);
    expect(zoomAt({ scale: 6, x: 0, y: 0 }, 4, 0, 0, 400, 300).scale).toBe(8);
    expect(panBy({ scale: 2, x: 0, y: 0 }, 50, 50, 400, 300)).toEqual({ scale: 2, x: 0, y: 0 });
    expect(panBy({ scale: 2, x: 0, y: 0 }, -1000, -1000, 400, 300)).toEqual({ scale: 2, x: -400, y: -300 });
    expect(clampView({ scale: 1, x: -10, y: 5 }, 400, 300)).toEqual(FIT);
  });
  it("answers the viewer's keys: + - 0 and arrows (arrows only when zoomed)", () => {
    const z = viewerKey(FIT, "+", 400, 300)!;
    expect(z.scale).toBeCloseTo(1.25);
    expect(viewerKey(z, "-", 400, 300)!.scale).toBeCloseTo(1);
    expect(viewerKey(z, "0", 400, 300)).toEqual(FIT);
    expect(viewerKey(FIT, "ArrowLeft", 400, 300)).toBeNull();
    expect(viewerKey(z, "ArrowRight", 400, 300)!.x).toBeLessThan(z.x);
    expect(viewerKey(z, "x", 400, 300)).toBeNull();
  });
  it("moves the overlay slider by keys within 0..100", () => {
    expect(sliderKey(50, "ArrowRight")).toBe(55);
    expect(sliderKey(2, "ArrowLeft")).toBe(0);
    expect(sliderKey(90, "PageUp")).toBe(100);
    expect(sliderKey(40, "Home")).toBe(0);
    expect(sliderKey(40, "End")).toBe(100);
    expect(sliderKey(40, "a")).toBeNull();
  });
});

describe("consent rules preview (as the server's catalog.allowed)", () => {
  it("follows the table of docs/clinical-api.md", () => {
    const table: [string, boolean, boolean, boolean, boolean][] = [
      // consent, care, teaching, teaching face, publication
      ["withdrawn", false, false, false, false],
      ["record", true, false, false, false],
      ["teaching", true, true, false, false],
      ["publication", true, true, true, true],
    ];
    for (const [c, care, teach, teachFace, pub] of table) {
      const level = c as Sequence["consent"];
      expect([allowed(level, "care", false), allowed(level, "teaching", false), allowed(level, "teaching", true), allowed(level, "publication", false)])
        .toEqual([care, teach, teachFace, pub]);
    }
    expect(allowed("publication", "care", false, "quarantined")).toBe(false);
  });
  it("splits the chosen photos before asking, face regions needing publication for teaching", () => {
    const hand = seq({ id: "a", consent: "teaching", photos: [photo("dorsal"), photo("palmar")] });
    const face = seq({ id: "b", consent: "teaching", region: { code: "nose", label_en: "Nose", label_fr: "Nez" }, photos: [photo("frontal")] });
    const chosen = new Set([hand.photos[0]!.id, face.photos[0]!.id]);
    const r = exportPreview([hand, face], chosen, "teaching");
    expect(r.ok.map((p) => p.id)).toEqual([hand.photos[0]!.id]);
    expect(r.refused.map((p) => p.id)).toEqual([face.photos[0]!.id]);
    expect(exportPreview([hand, face], chosen, "care").refused).toEqual([]);
  });
  it("wants a written reason of at least 5 characters", () => {
    expect(reasonOk("   ")).toBe(false);
    expect(reasonOk(" abcd ")).toBe(false);
    expect(reasonOk("Patient asked")).toBe(true);
  });
});

describe("words, numbers and dates in both languages", () => {
  it("counts views, photos and sequences with the plural rules", () => {
    expect(viewsPresent(5, 6, "en")).toBe("5 of 6 views");
    expect(viewsPresent(5, 6, "fr")).toBe("5 vues sur 6");
    expect(viewsPresent(1, 1, "en")).toBe("1 of 1 view");
    expect(viewsPresent(0, 1, "fr")).toBe("0 vue sur 1");
    expect(countWords(1, "photos", "en")).toBe("1 photo");
    expect(countWords(0, "photos", "fr")).toBe("0 photo"); // French: 0 is singular
    expect(countWords(0, "photos", "en")).toBe("0 photos");
    expect(countWords(1200, "sequences", "fr")).toBe("1\u202f200 séquences");
    expect(delayWords(30, "fr")).toBe("J30 après l'intervention");
  });
  it("writes dates by locale, a bare birth date without shifting the day", () => {
    expect(dateWords("1970-01-01", "en")).toBe("1 Jan 1970");
    expect(dateWords("1970-01-01", "fr")).toBe("1 janv. 1970");
    expect(dateWords(null, "en")).toBe("—");
    expect(monthWords("2026-03", "fr")).toBe("mars 2026");
    expect(monthWords("2026-03", "en")).toBe("March 2026");
  });
  it("has every clinician word in both tables, none empty", () => {
    const keys = Object.keys(en).filter((k) => k.startsWith("clin."));
    expect(keys.length).toBeGreaterThan(100);
    for (const k of keys) {
      expect(fr[k as keyof typeof fr], k).toBeTruthy();
      expect(en[k as keyof typeof en], k).toBeTruthy();
    }
  });
  it("scales bars to the largest value", () => {
    expect(barLengths([1, 2, 4], 100)).toEqual([25, 50, 100]);
    expect(barLengths([0, 0], 100)).toEqual([0, 0]);
    expect(barLengths([], 100)).toEqual([]);
  });
});

describe("routes and search", () => {
  it("builds the search query: trimmed text, birth date only when a date", () => {
    expect(searchQuery("  ", "")).toBeNull();
    expect(searchQuery(" dupont  jean ", "1970-01-02")).toBe("q=dupont+jean&birth_date=1970-01-02");
    expect(searchQuery("IPP123", "197")).toBe("q=IPP123");
  });
  it("round-trips any hospital identifier through the hash", () => {
    for (const id of ["IPP123", "A/B 7", "é#?%"]) {
      const h = patientHash(id);
      expect(isPeopleHash(h)).toBe(true);
      expect(parseClinHash(h)).toEqual({ name: "timeline", patientId: id });
      expect(parseClinHash(patientHash(id, "/compare"))).toEqual({ name: "compare", patientId: id });
    }
    expect(parseClinHash("#/patients")).toEqual({ name: "search" });
    expect(parseClinHash("#/stats")).toEqual({ name: "stats" });
    expect(parseClinHash("#/patients/%E0")).toBeNull();
  });
  it("gives surgeons the patients as home, figures to administrators, nothing to nurses", () => {
    expect(homeFor(["surgeon"])).toBe("#/patients");
    expect(mayOpen(["surgeon"], "#/patients/IPP1/compare")).toBe(true);
    expect(mayOpen(["surgeon"], "#/account")).toBe(true);
    expect(mayOpen(["administrator"], "#/stats")).toBe(true);
    expect(mayOpen(["administrator"], "#/patients")).toBe(false);
    expect(mayOpen(["nurse"], "#/patients")).toBe(false);
    expect(mayOpen(["nurse"], "#/patients/IPP1")).toBe(false);
    expect(mayOpen(["nurse"], "#/stats")).toBe(false);
    expect(homeFor(["administrator"])).toBe("#/admin");
  });
});
