// The clinicians' workspace in words: coded values and the server's refusals (strings only).
import { lang, t, type MessageKey } from "../../i18n/index.ts";
import { en } from "../../i18n/messages.ts";
import { PeopleError } from "../people/api.ts";
import { problem } from "../people/format.ts";
import { CONSENT_MIN_REASON } from "./logic.ts";

function known(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** A coded value (consent, phase, laterality, purpose) in words; the code itself when it has none. */
export function coded(family: "consent" | "phase" | "lat" | "purpose", code: string | null | undefined): string {
  if (!code) return "—";
  const key = `clin.${family}.${code}`;
  return known(key) ? t(key) : code;
}

const REFUSALS: Record<string, MessageKey> = {
  patient_not_found: "clin.err.patientNotFound",
  patient_restricted: "clin.err.restricted",
  patient_id_invalid: "clin.err.patientNotFound",
  clinical_query_invalid: "clin.err.query",
  photo_not_found: "clin.err.photoGone",
  photo_quarantined: "clin.err.quarantined",
  consent_insufficient: "clin.err.consent",
  original_surgeons_only: "clin.err.surgeonsOnly",
  export_invalid: "clin.err.exportInvalid",
  sequence_not_found: "clin.err.sequenceGone",
};

/** A refusal in the reader's language (re-worded at each render, so a language switch rewords it). */
export function clinProblem(err: unknown): string {
  if (err instanceof PeopleError) {
    if (err.code === "reason_required") return t("clin.reasonShort", { min: CONSENT_MIN_REASON });
    const key = REFUSALS[err.code];
    if (key) return t(key);
  }
  return problem(err);
}

export const currentLang = lang;
