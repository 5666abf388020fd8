import { cleanScannedId } from "../../capture/scan.ts";
import { patientIdValid } from "../sequence/form.ts";
import { SEQUENCE_SCHEMA } from "../sequence/schema.ts";

/**
 * A scanned wristband value as a patient identifier, or null: the same rule as typed input (the
 * sequence schema's `patient_id` pattern), after removing the control characters scanners add.
 */
export function acceptPatientId(text: string): string | null {
  const v = cleanScannedId(text);
  return patientIdValid(SEQUENCE_SCHEMA, v) ? v : null;
}
