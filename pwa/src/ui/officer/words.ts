// What the audit trail's codes mean, in the officer's words (pure: strings only).
import { en } from "../../i18n/messages.ts";
import { t, type Lang, type MessageKey } from "../../i18n/index.ts";
import type { Alert } from "./api.ts";

/** Families of actions an officer can filter on (API prefix filter: a name ending in "."). */
export const ACTION_FAMILIES = [
  "photo.", "sequence.", "batch.", "upload.", "device.", "person.", "passkey.", "session.", "break_glass.", "audit.",
  "patient.", "interop.", "fhir.", "keys.", "http.",
] as const;

function known(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** FHIR outcome codes: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export function outcomeWords(code: string, l?: Lang): string {
  const key = `outcome.${code}`;
  return known(key) ? t(key, {}, l) : code;
}

/** "error" for serious and major failures, "warn" for minor ones, "ok" for success. */
export function outcomeTone(code: string): "ok" | "warn" | "error" {
  return code === "0" ? "ok" : code === "4" ? "warn" : "error";
}

export function familyWords(family: string, l?: Lang): string {
  const key = `family.${family.replace(/\.$/, "")}`;
  return known(key) ? t(key, {}, l) : family;
}

/** An action in words: its own name if it has one, else its family's, else the code itself. */
export function actionWords(action: string, l?: Lang): string {
  const own = `action.${action}`;
  if (known(own)) return t(own, {}, l);
  if (action.startsWith("http.")) return t("action.http", { method: action.slice(5).toUpperCase() }, l);
  const family = ACTION_FAMILIES.find((f) => action.startsWith(f));
  return family ? `${familyWords(family, l)} (${action})` : action;
}

/** A UUID's first block is enough to tell people and devices apart on screen; other ids stay whole. */
export function shortId(id: string): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(id) ? id.slice(0, 8) : id;
}

/** Who acted, as an officer reads it; `name` when the server knows it. */
export function actorWords(actor: string | null, name?: string | null, l?: Lang): string {
  if (name) return name;
  if (!actor) return t("actor.none", {}, l);
  if (actor === "anonymous") return t("actor.anonymous", {}, l);
  const [kind, ...rest] = actor.split(":");
  const key = `actor.${kind}`;
  return known(key) ? t(key, { id: shortId(rest.join(":")) }, l) : actor;
}

export function roleWords(role: string | null, l?: Lang): string {
  if (!role) return "—";
  const key = `role.${role}`;
  return known(key) ? t(key, {}, l) : role;
}

export function severityWords(severity: string, l?: Lang): string {
  const key = `severity.${severity}`;
  return known(key) ? t(key, {}, l) : severity;
}

/** Names the officer's screens already know, by actor string ("user:<id>" -> "Claire Martin"). */
export type Names = Readonly<Record<string, string>>;

/** An alert in words: a title for its kind and one sentence with who, what and how many. */
export function alertWords(a: Alert, l?: Lang, names: Names = {}): { title: string; detail: string } {
  const who = actorWords(a.actor, a.actor ? names[a.actor] : null, l);
  const params = { count: a.count, who, device: a.device_id ? shortId(a.device_id) : "—", patient: a.patient_id ?? "—" };
  const title = `alert.${a.kind}`;
  const detail = `alert.${a.kind}.detail`;
  if (!known(title) || !known(detail)) return { title: a.kind, detail: t("alert.unknown.detail", params, l) };
  const sentence = t(detail, params, l);
  return { title: t(title, {}, l), detail: sentence.charAt(0).toUpperCase() + sentence.slice(1) };
}

const SEVERITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

/** Open alerts first, then the most severe, then the newest. */
export function sortAlerts(alerts: Alert[]): Alert[] {
  return [...alerts].sort((a, b) =>
    Number(a.acknowledged_at !== null) - Number(b.acknowledged_at !== null)
    || (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3)
    || b.raised_at.localeCompare(a.raised_at));
}
