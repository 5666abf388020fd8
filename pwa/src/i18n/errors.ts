// Errors the capture app shows are stable codes (sync, storage, camera, unlock), turned into a
// sentence of the current language here: never the English message of an exception or a server.
import { lang, t, type Lang, type MessageKey } from "./index.ts";
import { en } from "./messages.ts";

/** The sentence for an error code; an unknown code still reads in the user's language, code included. */
export function errorText(code: string, l: Lang = lang()): string {
  const key = `error.${code}`;
  return key in en ? t(key as MessageKey, {}, l) : t("error.unknown", { code }, l);
}

/** The stable code of a getUserMedia / camera failure. */
export function cameraErrorCode(e: unknown): string {
  switch ((e as { name?: string })?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "camera_denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "camera_missing";
    case "NotReadableError":
    case "AbortError":
      return "camera_busy";
    default:
      return "camera_failed";
  }
}
