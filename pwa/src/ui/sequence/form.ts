// The sequence form, generated from schemas/sequence.schema.json (the one source of truth):
// fields in x-order, labels from x-label / x-labels, rules from the schema. Pure: no DOM.
import type { Labels, Lang } from "../../i18n/index.ts";

interface JsonSchema {
  type?: string;
  enum?: string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  if?: { properties?: Record<string, { const?: unknown }> };
  then?: { required?: string[] };
  "x-label"?: Labels;
  "x-labels"?: Record<string, Labels>;
  "x-order"?: number;
  "x-generated"?: boolean;
  "x-options-from"?: string;
}

export interface Field {
  path: string[]; // e.g. ["timing", "phase"]
  key: string; // path joined with "."
  kind: "enum" | "text" | "textarea" | "date" | "integer" | "protocol";
  label: Labels;
  required: boolean;
  options: { value: string; label: Labels }[];
  schema: JsonSchema;
  requiredWhen?: { key: string; equals: unknown };
}

export interface ViewProtocol {
  label: Labels;
  procedures: string[];
  views: string[];
  free: boolean;
}

export interface ProtocolFile {
  protocols: Record<string, ViewProtocol>;
  procedure_defaults: Record<string, string>;
  phase_defaults?: Record<string, string>;
}

export interface ViewInfo {
  code: string;
  snomed: string | null;
  label: Labels;
  guide?: Labels;
}

/** Fields the surgeon fills; ids, timestamps and the patient (own screen) are set by the app. */
const HANDLED_ELSEWHERE = new Set(["patient_id"]);

export function fieldsFromSchema(schema: JsonSchema, protocols: ProtocolFile, prefix: string[] = []): Field[] {
  const props = Object.entries(schema.properties ?? {}).sort(([, a], [, b]) => (a["x-order"] ?? 999) - (b["x-order"] ?? 999));
  const required = new Set(schema.required ?? []);
  const cond = schema.if?.properties ? Object.entries(schema.if.properties)[0] : undefined;
  const out: Field[] = [];
  for (const [name, prop] of props) {
    if (prop["x-generated"] || (prefix.length === 0 && HANDLED_ELSEWHERE.has(name))) continue;
    const path = [...prefix, name];
    if (prop.type === "object") {
      out.push(...fieldsFromSchema(prop, protocols, path));
      continue;
    }
    const label = prop["x-label"] ?? { en: name, fr: name };
    let kind: Field["kind"] = "text";
    let options: Field["options"] = [];
    if (prop["x-options-from"] === "view-protocols.json") {
      kind = "protocol";
      options = Object.entries(protocols.protocols).map(([value, p]) => ({ value, label: p.label }));
    } else if (prop.enum) {
      kind = "enum";
      options = prop.enum.map((value) => ({ value, label: prop["x-labels"]?.[value] ?? { en: value, fr: value } }));
    } else if (prop.type === "integer") kind = "integer";
    else if (prop.format === "date") kind = "date";
    else if ((prop.maxLength ?? 0) > 200) kind = "textarea";
    const field: Field = { path, key: path.join("."), kind, label, required: required.has(name), options, schema: prop };
    if (cond && schema.then?.required?.includes(name)) field.requiredWhen = { key: [...prefix, cond[0]].join("."), equals: cond[1].const };
    out.push(field);
  }
  return out;
}

export type FormValues = Record<string, string>;

/**
 * A new form: only the date is filled in. Consent, laterality and phase are clinical answers the
 * surgeon must give each time; they are never pre-answered (and the schema gives them no default).
 */
export function newFormValues(today: string): FormValues {
  return { performed_on: today };
}

export function isRequired(field: Field, values: FormValues): boolean {
  return field.required || (!!field.requiredWhen && values[field.requiredWhen.key] === field.requiredWhen.equals);
}

/** Errors by field key: "required" or "invalid". Empty when the form can be saved. */
export function validate(fields: Field[], values: FormValues): Record<string, "required" | "invalid"> {
  const errors: Record<string, "required" | "invalid"> = {};
  for (const f of fields) {
    const v = (values[f.key] ?? "").trim();
    if (!v) {
      if (isRequired(f, values)) errors[f.key] = "required";
      continue;
    }
    const s = f.schema;
    if (f.kind === "enum" || f.kind === "protocol") {
      if (!f.options.some((o) => o.value === v)) errors[f.key] = "invalid";
    } else if (f.kind === "integer") {
      const n = Number(v);
      if (!/^\d+$/.test(v) || (s.minimum !== undefined && n < s.minimum) || (s.maximum !== undefined && n > s.maximum)) errors[f.key] = "invalid";
    } else if (f.kind === "date") {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) errors[f.key] = "invalid";
    } else {
      if ((s.minLength !== undefined && v.length < s.minLength) || (s.maxLength !== undefined && v.length > s.maxLength)) errors[f.key] = "invalid";
      else if (s.pattern && !new RegExp(s.pattern, "u").test(v)) errors[f.key] = "invalid";
    }
  }
  return errors;
}

/** The manifest's sequence entry: nested as the schema nests it, typed as the schema types it. */
export function toEntry(fields: Field[], values: FormValues, fixed: { sequence_id: string; patient_id: string; created_at: string; person_id?: string; patient_verified?: boolean }): Record<string, unknown> {
  const entry: Record<string, unknown> = { ...fixed };
  for (const f of fields) {
    const v = (values[f.key] ?? "").trim();
    if (!v) continue;
    let target = entry;
    for (const p of f.path.slice(0, -1)) target = (target[p] ??= {}) as Record<string, unknown>;
    target[f.path.at(-1)!] = f.kind === "integer" ? Number(v) : v;
  }
  return entry;
}

/** When the procedure or phase changes, the protocol follows its default (phase first: intra-op). */
export function defaultProtocol(protocols: ProtocolFile, values: FormValues): string | undefined {
  const phase = values["timing.phase"];
  if (phase && protocols.phase_defaults?.[phase]) return protocols.phase_defaults[phase];
  const proc = values["procedure"];
  return proc ? protocols.procedure_defaults[proc] : undefined;
}

export function patientIdValid(schema: JsonSchema, id: string): boolean {
  const pattern = schema.properties?.["patient_id"]?.pattern ?? "^[A-Za-z0-9][A-Za-z0-9-]{2,31}$";
  return new RegExp(pattern).test(id);
}

/** Views of the protocol and how many of them have a photo. */
export function completeness(protocol: ViewProtocol | undefined, taken: string[]): { done: number; total: number; next?: string } {
  if (!protocol) return { done: 0, total: 0 };
  const have = new Set(taken);
  const done = protocol.views.filter((v) => have.has(v)).length;
  return { done, total: protocol.views.length, next: protocol.views.find((v) => !have.has(v)) };
}

export function fieldLabel(f: Field, l: Lang): string {
  return f.label[l] ?? f.label.en;
}
