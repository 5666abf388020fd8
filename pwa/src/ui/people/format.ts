import { lang, t, type MessageKey } from "../../i18n/index.ts";
import { BREAK_GLASS_MIN_REASON, PeopleError } from "./api.ts";

export function when(iso: string | null): string {
  if (!iso) return t("people.never");
  return new Date(iso).toLocaleString(lang() === "fr" ? "fr-FR" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

/** Like `when`, to the second: audit entries are read side by side. */
export function exactly(iso: string): string {
  return new Date(iso).toLocaleString(lang() === "fr" ? "fr-FR" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
}

/** Time left until `until`, as "14 min 05 s" (or "1 h 02 min"); null once it has passed. */
export function remaining(until: string | null, now: number = Date.now()): string | null {
  if (!until) return null;
  const s = Math.floor((Date.parse(until) - now) / 1000);
  if (!(s > 0)) return null;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h} h ${pad(m)} min` : `${m} min ${pad(s % 60)} s`;
}

const PROBLEMS: Record<string, MessageKey> = {
  offline: "people.offline",
  session_required: "people.sessionEnded",
  session_invalid: "people.sessionEnded",
  forbidden: "people.forbidden",
  csrf_failed: "people.csrf",
  passkey_invalid: "people.signinFailed",
  challenge_invalid: "people.challenge",
  last_passkey: "account.lastPasskey",
  passkey_not_found: "account.passkeyGone",
  person_not_found: "admin.personGone",
  last_administrator: "admin.lastAdministrator",
  audit_query_invalid: "officer.queryInvalid",
  audit_entry_not_found: "officer.entryGone",
  audit_alert_not_found: "officer.alertGone",
  schema_invalid: "people.invalidInput",
  audit_api_disabled: "officer.apiOff",
};

/** A refusal in words the person can act on; the browser's own passkey refusal reads as cancelled. */
export function problem(err: unknown): string {
  if (err instanceof PeopleError) {
    if (err.code === "break_glass_reason_required") return t("breakGlass.reasonShort", { min: BREAK_GLASS_MIN_REASON });
    const key = PROBLEMS[err.code];
    return key ? t(key) : t("people.actionFailed");
  }
  if (err instanceof Error && err.name === "InvalidStateError") return t("account.alreadyRegistered");
  if (err instanceof Error && (err.name === "NotAllowedError" || err.name === "AbortError")) return t("people.cancelled");
  return t("people.actionFailed");
}
