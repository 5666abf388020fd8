import { describe, expect, it } from "vitest";
import { completeness, defaultProtocol, newFormValues, patientIdValid, toEntry, validate } from "../src/ui/sequence/form.ts";
import { FIELDS, PROTOCOLS, SEQUENCE_SCHEMA, VIEWS } from "../src/ui/sequence/schema.ts";

describe("sequence form generated from schemas/sequence.schema.json", () => {
  it("lists the fields in x-order without the generated ones", () => {
    const keys = FIELDS.map((f) => f.key);
    expect(keys).toContain("procedure");
    expect(keys).toContain("timing.phase");
    expect(keys).not.toContain("sequence_id");
    expect(keys).not.toContain("created_at");
    expect(keys).not.toContain("patient_id");
    expect(keys.indexOf("procedure")).toBeLessThan(keys.indexOf("anatomical_region"));
    const proc = FIELDS.find((f) => f.key === "procedure")!;
    expect(proc.options.find((o) => o.value === "rhinoplasty")?.label.fr).toBe("Rhinoplastie");
  });

  it("validates, including the post-op delay rule", () => {
    const values = { procedure: "rhinoplasty", anatomical_region: "nose", laterality: "not_applicable", "timing.phase": "post_op", consent: "record", view_protocol: "rhinoplasty" };
    expect(validate(FIELDS, values)).toEqual({ "timing.delay_days": "required" });
    expect(validate(FIELDS, { ...values, "timing.delay_days": "30" })).toEqual({});
    expect(validate(FIELDS, { ...values, "timing.delay_days": "-3" })["timing.delay_days"]).toBe("invalid");
    expect(validate(FIELDS, { ...values, procedure: "nope", "timing.delay_days": "1" })).toEqual({ procedure: "invalid" });
    const entry = toEntry(FIELDS, { ...values, "timing.delay_days": "30" }, { sequence_id: "s", patient_id: "p", created_at: "t" });
    expect(entry).toMatchObject({ procedure: "rhinoplasty", timing: { phase: "post_op", delay_days: 30 }, patient_id: "p" });
  });

  it("picks the procedure's protocol and counts completeness", () => {
    expect(defaultProtocol(PROTOCOLS, { procedure: "breast_reduction" })).toBe("breast");
    expect(defaultProtocol(PROTOCOLS, { procedure: "breast_reduction", "timing.phase": "intra_op" })).toBe("intra_op");
    const rhino = PROTOCOLS.protocols["rhinoplasty"];
    expect(completeness(rhino, ["frontal", "basal"])).toEqual({ done: 2, total: 6, next: "right_lateral" });
    for (const p of Object.values(PROTOCOLS.protocols)) for (const v of p.views) expect(VIEWS.has(v)).toBe(true);
  });

  it("validates the hospital identifier with the schema's pattern", () => {
    expect(patientIdValid(SEQUENCE_SCHEMA, "12345678")).toBe(true);
    expect(patientIdValid(SEQUENCE_SCHEMA, "1")).toBe(false);
    expect(patientIdValid(SEQUENCE_SCHEMA, "12 34")).toBe(false);
  });

  it("never pre-answers consent, laterality or phase: a new form without them is refused", () => {
    const fresh = newFormValues("2026-12-03");
    for (const k of ["consent", "laterality", "timing.phase"]) expect(fresh[k]).toBeUndefined();
    const filled = { ...fresh, procedure: "hand_surgery", anatomical_region: "hand", view_protocol: "hand" };
    expect(validate(FIELDS, filled)).toEqual({ consent: "required", laterality: "required", "timing.phase": "required" });
    // The schema gives these fields no default a form generator could pick up.
    const props = SEQUENCE_SCHEMA.properties!;
    for (const s of [props["consent"], props["laterality"], props["timing"]!.properties!["phase"]]) expect(s).not.toHaveProperty("default");
    expect(SEQUENCE_SCHEMA.required).toEqual(expect.arrayContaining(["consent", "laterality", "timing"]));
  });
});
