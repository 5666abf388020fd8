// Words of the docking station: counts with the language's plural rules, ages relative to now,
// and sync error codes in the nurse's language.
import { lang, t, type Lang, type MessageKey } from "../../i18n/index.ts";

/** `${base}.one` or `${base}.other`, chosen by Intl.PluralRules for the language. */
export function counted(base: "station.photos" | "station.sequences" | "station.uploadErrors", count: number,
  params: Record<string, string | number> = {}, l: Lang = lang()): string {
  const form = new Intl.PluralRules(l).select(count) === "one" ? "one" : "other";
  return t(`${base}.${form}` as MessageKey, { ...params, count: count.toLocaleString(l) }, l);
}

/** "3 hr. ago" / "il y a 3 h": the largest whole unit, by locale. */
export function ago(iso: string, now: number = Date.now(), l: Lang = lang()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const fmt = new Intl.RelativeTimeFormat(l, { numeric: "always", style: "short" });
  if (seconds < 60) return fmt.format(-seconds, "second");
  if (seconds < 3600) return fmt.format(-Math.floor(seconds / 60), "minute");
  if (seconds < 48 * 3600) return fmt.format(-Math.floor(seconds / 3600), "hour");
  return fmt.format(-Math.floor(seconds / 86400), "day");
}

export const KNOWN_SYNC_ERRORS = [
  "offline", "server_unavailable", "upload_failed", "receipt_invalid", "local_inconsistent", "photo_conflict",
  "batch_incomplete", "device_revoked", "device_unauthenticated", "aborted", "bad_answer", "storage", "not_enrolled",
  "http_error", "batch_conflict",
] as const;
const KNOWN = new Set<string>(KNOWN_SYNC_ERRORS);

/** A sync error code in words; an unknown code is shown as itself. */
export function reason(code: string, l: Lang = lang()): string {
  return KNOWN.has(code) ? t(`station.err.${code}` as MessageKey, {}, l) : t("station.err.other", { code }, l);
}
