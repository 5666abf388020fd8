// The clinicians' workspace, pure parts (no DOM, no fetch): pairing two sequences' photos by view,
// the landmark alignment, zoom arithmetic, the consent rules as the server applies them (a preview
// only: the server decides), and the words and numbers the screens show. Unit-tested in
// test/clinician.test.ts.
import { t, type Lang } from "../../i18n/index.ts";

export type Coded = { code: string; label_en: string; label_fr: string };
export type Consent = "record" | "teaching" | "publication" | "withdrawn";
export type Purpose = "care" | "teaching" | "publication";
export type Patient = {
  id: string; family: string | null; given: string | null; birth_date: string | null; sex: string | null;
  restricted: boolean; sequences: number; photos: number; last_taken_at: string | null;
};
export type Photo = {
  id: string; sequence_id: string; view: string; view_label: { en: string; fr: string }; captured_at: string;
  width: number; height: number; state: "verified" | "quarantined" | "pending"; taken_by?: { id: string | null; name: string | null } | null;
};
export type Sequence = {
  id: string; patient_id: string; taken_at: string; performed_on: string | null; filed_at: string;
  procedure: Coded; region: Coded; laterality: string; phase: string; delay: { value: number; unit: string } | null;
  consent: Consent; consent_history: { previous: string; level: string; reason: string; changed_by: string; changed_at: string }[];
  taken_by: { id: string | null; name: string | null }; note: string | null;
  protocol: { id: string; expected: string[]; present: string[]; complete: boolean }; photos: Photo[];
};
export type StatRow = { key: string; label?: string; patients: number; sequences: number; photos: number };
export type Stats = {
  totals: { patients: number; sequences: number; photos: number; sequences_per_patient: number; photos_per_sequence: number };
  by_month: StatRow[]; by_surgeon: StatRow[]; by_procedure: StatRow[];
};

export const CONSENTS: readonly Consent[] = ["record", "teaching", "publication", "withdrawn"];
export const PURPOSES: readonly Purpose[] = ["care", "teaching", "publication"];
/** The server's minimum reason length for a consent change (after trimming). */
export const CONSENT_MIN_REASON = 5;
/** Regions whose photos show the face whatever the view (the server's safe reading, catalog.py). */
export const FACE_REGIONS: readonly string[] = ["face", "nose", "eyelids", "neck", "scalp"];

const locale = (l: Lang) => (l === "fr" ? "fr-FR" : "en-GB");

/** "5 of 6 views" / "5 vues sur 6": the plural follows the expected count, by Intl.PluralRules. */
export function viewsPresent(present: number, expected: number, l: Lang): string {
  const form = new Intl.PluralRules(locale(l)).select(expected) === "one" ? "one" : "other";
  return t(form === "one" ? "clin.viewsOfOne" : "clin.viewsOfOther", { n: present, m: expected }, l);
}

/** "3 photos" / "1 photo" (and sequences): one key per plural form. */
export function countWords(n: number, what: "photos" | "sequences", l: Lang): string {
  const form = new Intl.PluralRules(locale(l)).select(n) === "one" ? "One" : "Other";
  return t(`clin.${what}${form}` as "clin.photosOne", { n: n.toLocaleString(locale(l)) }, l);
}

/** "3 days after" / "3 jours après" (the delay of a post-operative sequence, in days). */
export function delayWords(days: number, l: Lang): string {
  const form = new Intl.PluralRules(locale(l)).select(days) === "one" ? "One" : "Other";
  return t(`clin.delay${form}` as "clin.delayOne", { n: days.toLocaleString(locale(l)) }, l);
}

export function dateWords(iso: string | null, l: Lang, withTime = false): string {
  if (!iso) return "—";
  // a bare date is a calendar day, not midnight UTC: read it as noon so no time zone moves it
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(`${iso}T12:00:00`) : new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(l), withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" }).format(d);
}

/** "2026-03" as "March 2026" / "mars 2026". */
export function monthWords(key: string, l: Lang): string {
  const m = /^(\d{4})-(\d{2})$/.exec(key);
  if (!m) return key;
  return new Intl.DateTimeFormat(locale(l), { month: "long", year: "numeric" }).format(new Date(Number(m[1]), Number(m[2]) - 1, 15));
}

export function codedWords(c: Coded | string | null | undefined, l: Lang): string {
  if (!c) return "—";
  if (typeof c === "string") return c;
  return (l === "fr" ? c.label_fr : c.label_en) || c.code;
}

export function patientName(p: Patient): string {
  const name = [p.family?.toUpperCase(), p.given].filter(Boolean).join(" ");
  return name || p.id;
}

// ---- consent rules (preview of sync_server/clinical/catalog.py `allowed`) ----

/** Would the server let this photo out for this purpose? Quarantined photos never leave. */
export function allowed(consent: Consent, purpose: Purpose, face: boolean, state: Photo["state"] = "verified"): boolean {
  if (state !== "verified" || consent === "withdrawn") return false;
  if (purpose === "care") return true;
  if (purpose === "publication") return consent === "publication";
  return face ? consent === "publication" : consent === "teaching" || consent === "publication";
}

export function isFace(seq: Pick<Sequence, "region">): boolean {
  return FACE_REGIONS.includes(seq.region.code);
}

/** The chosen photos split by what consent allows for a purpose, before asking the server. */
export function exportPreview(sequences: readonly Sequence[], chosen: ReadonlySet<string>, purpose: Purpose): { ok: Photo[]; refused: Photo[] } {
  const ok: Photo[] = [];
  const refused: Photo[] = [];
  for (const s of sequences) {
    for (const p of s.photos) {
      if (!chosen.has(p.id)) continue;
      (allowed(s.consent, purpose, isFace(s), p.state) ? ok : refused).push(p);
    }
  }
  return { ok, refused };
}

export function reasonOk(reason: string): boolean {
  return reason.trim().length >= CONSENT_MIN_REASON;
}

// ---- comparison ----

export type Pair = { view: string; left: Photo; right: Photo };
export type Pairing = { pairs: Pair[]; onlyLeft: Photo[]; onlyRight: Photo[] };

/**
 * Photos of the same view side by side: for each view code present in both, the first photo of that view in
 * each sequence (photos in capture order); the others are listed as unmatched. Quarantined photos are left out.
 * Pairs follow the left sequence's order, so a protocol reads in its own order.
 */
export function pairByView(left: readonly Photo[], right: readonly Photo[]): Pairing {
  const usable = (ps: readonly Photo[]) => [...ps].filter((p) => p.state !== "quarantined").sort((a, b) => a.captured_at.localeCompare(b.captured_at));
  const L = usable(left);
  const R = usable(right);
  const rightByView = new Map<string, Photo>();
  for (const p of R) if (!rightByView.has(p.view)) rightByView.set(p.view, p);
  const used = new Set<string>();
  const pairs: Pair[] = [];
  const onlyLeft: Photo[] = [];
  for (const p of L) {
    const match = rightByView.get(p.view);
    if (match && !used.has(match.id) && !pairs.some((x) => x.view === p.view)) {
      pairs.push({ view: p.view, left: p, right: match });
      used.add(match.id);
    } else {
      onlyLeft.push(p);
    }
  }
  const onlyRight = R.filter((p) => !used.has(p.id));
  return { pairs, onlyLeft, onlyRight };
}

export type Point = { x: number; y: number };
/** x' = a·x − b·y + tx, y' = b·x + a·y + ty (rotation, uniform scale, translation). */
export type Similarity = { a: number; b: number; tx: number; ty: number };

/**
 * The similarity transform taking two landmarks of one photo (from) onto the same two landmarks of the other
 * (to), e.g. both inner canthi. Null when the two "from" landmarks coincide (no scale or angle defined).
 */
export function similarityFrom(from: readonly [Point, Point], to: readonly [Point, Point]): Similarity | null {
  const dx = from[1].x - from[0].x;
  const dy = from[1].y - from[0].y;
  const ex = to[1].x - to[0].x;
  const ey = to[1].y - to[0].y;
  const d2 = dx * dx + dy * dy;
  if (d2 < 1e-12) return null;
  // complex division: (ex + i·ey) / (dx + i·dy)
  const a = (ex * dx + ey * dy) / d2;
  const b = (ey * dx - ex * dy) / d2;
  return { a, b, tx: to[0].x - (a * from[0].x - b * from[0].y), ty: to[0].y - (b * from[0].x + a * from[0].y) };
}

export function applySimilarity(s: Similarity, p: Point): Point {
  return { x: s.a * p.x - s.b * p.y + s.tx, y: s.b * p.x + s.a * p.y + s.ty };
}

/** As a CSS transform (origin at the top left corner). */
export function similarityCss(s: Similarity): string {
  return `matrix(${s.a}, ${s.b}, ${-s.b}, ${s.a}, ${s.tx}, ${s.ty})`;
}

// ---- zoom and pan ----

export type View = { scale: number; x: number; y: number };
export const MIN_ZOOM = 1;
export const MAX_ZOOM = 8;
export const FIT: View = { scale: 1, x: 0, y: 0 };

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Keep the image covering its box: at scale s the image (box size w×h, transform-origin 0 0) may move by at
 * most (s−1)·w to the left and never right of 0.
 */
export function clampView(v: View, w: number, h: number): View {
  const scale = clamp(v.scale, MIN_ZOOM, MAX_ZOOM);
  return { scale, x: clamp(v.x, -(scale - 1) * w, 0) + 0, y: clamp(v.y, -(scale - 1) * h, 0) + 0 }; // + 0: no -0
}

/** Zoom by `factor` keeping the point (px, py) of the box (box coordinates) where it is. */
export function zoomAt(v: View, factor: number, px: number, py: number, w: number, h: number): View {
  const scale = clamp(v.scale * factor, MIN_ZOOM, MAX_ZOOM);
  const k = scale / v.scale;
  return clampView({ scale, x: px - (px - v.x) * k, y: py - (py - v.y) * k }, w, h);
}

export function panBy(v: View, dx: number, dy: number, w: number, h: number): View {
  return clampView({ scale: v.scale, x: v.x + dx, y: v.y + dy }, w, h);
}

/** Keys of the viewer: + - 0 zoom about the centre, arrows pan by a tenth of the box; null for other keys. */
export function viewerKey(v: View, key: string, w: number, h: number): View | null {
  switch (key) {
    case "+": case "=": return zoomAt(v, 1.25, w / 2, h / 2, w, h);
    case "-": case "_": return zoomAt(v, 0.8, w / 2, h / 2, w, h);
    case "0": return FIT;
    case "ArrowLeft": return v.scale > 1 ? panBy(v, w / 10, 0, w, h) : null;
    case "ArrowRight": return v.scale > 1 ? panBy(v, -w / 10, 0, w, h) : null;
    case "ArrowUp": return v.scale > 1 ? panBy(v, 0, h / 10, w, h) : null;
    case "ArrowDown": return v.scale > 1 ? panBy(v, 0, -h / 10, w, h) : null;
    default: return null;
  }
}

/** Two pointers' distance, for pinching. */
export function spread(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** The overlay slider's position after a key (0..100, steps of 5, Home/End). */
export function sliderKey(pos: number, key: string): number | null {
  switch (key) {
    case "ArrowLeft": case "ArrowDown": return clamp(pos - 5, 0, 100);
    case "ArrowRight": case "ArrowUp": return clamp(pos + 5, 0, 100);
    case "Home": return 0;
    case "End": return 100;
    case "PageDown": return clamp(pos - 25, 0, 100);
    case "PageUp": return clamp(pos + 25, 0, 100);
    default: return null;
  }
}

// ---- figures ----

/** Bar lengths (0..max) for a chart: proportional to the largest value; all zero when there is nothing. */
export function barLengths(values: readonly number[], max: number): number[] {
  const top = Math.max(0, ...values);
  return values.map((v) => (top > 0 ? (Math.max(0, v) / top) * max : 0));
}

export function numberWords(n: number, l: Lang, digits = 0): string {
  return n.toLocaleString(locale(l), { maximumFractionDigits: digits });
}

/** The search box: an identifier (no space, has a digit) or name words; with the birth date when given. */
export function searchQuery(text: string, birthDate: string): string | null {
  const q = text.trim().replace(/\s+/g, " ");
  if (!q) return null;
  const p = new URLSearchParams({ q });
  if (/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) p.set("birth_date", birthDate);
  return p.toString();
}

/** #/patients/<id>[/compare] for a patient id (hospital identifiers may hold any character). */
export function patientHash(id: string, tail = ""): string {
  return `#/patients/${encodeURIComponent(id)}${tail}`;
}

export type ClinRoute =
  | { name: "search" }
  | { name: "timeline"; patientId: string }
  | { name: "compare"; patientId: string }
  | { name: "stats" };

export function parseClinHash(hash: string): ClinRoute | null {
  if (hash === "#/patients") return { name: "search" };
  if (hash === "#/stats") return { name: "stats" };
  const m = /^#\/patients\/([^/]+)(\/compare)?$/.exec(hash);
  if (!m) return null;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  return m[2] ? { name: "compare", patientId: id } : { name: "timeline", patientId: id };
}
