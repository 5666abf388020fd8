// Form seal v1 (crypto/FORMAT.md, CPF1): a sequence's form (patient identifier + qualification)
// sealed to the hospital's P-256 key when the sequence is created. The phone keeps only these
// bytes for sync: it can sync without unlocking, and a copy of its profile yields no patient
// identity. Same HPKE suite as the photo seal, its own magic and info label, so a photo can never
// pass for a form or the reverse. openForm exists for tests and interop checks only.
import { concat, sha256, toBase64Url, toHex, utf8 } from "./bytes.ts";
import { canonicalize } from "./jcs.ts";
import { clearHeader, hpke, parseClearHeader, SealError, type SealingKey } from "./seal.ts";

const MAGIC = utf8("CPF1");
const VERSION = 0x01;
const INFO_LABEL = utf8("clinphoto/seal-form/v1");
const ENC_LEN = 65;
export const FORM_PLAINTEXT_MAX = 32 * 1024;

export interface SequenceForm {
  sequence_id: string;
  patient_id: string;
  [field: string]: unknown;
}

export interface SealedForm {
  sequenceId: string;
  sealed: string; // base64url, no padding: the manifest's sealed_form
}

function header(kid: string, sequenceId: string, digest: Uint8Array): Uint8Array<ArrayBuffer> {
  return clearHeader(MAGIC, VERSION, kid, [sequenceId], digest);
}

/** Seal `form` (RFC 8785 canonical JSON) for the hospital; its sequence_id is bound into the header. */
export async function sealForm(form: SequenceForm, to: SealingKey): Promise<SealedForm> {
  const plaintext = utf8(canonicalize(form));
  if (plaintext.length > FORM_PLAINTEXT_MAX) throw new SealError("invalid_argument", "form too large");
  const h = header(to.kid, form.sequence_id, await sha256(plaintext));
  const { enc, ct } = await hpke().seal({ recipientPublicKey: to.key, info: concat(INFO_LABEL, h) }, plaintext);
  if (enc.byteLength !== ENC_LEN) throw new SealError("malformed", "unexpected enc length");
  return { sequenceId: form.sequence_id, sealed: toBase64Url(concat(h, new Uint8Array(enc), new Uint8Array(ct))) };
}

export interface FormSealHeader {
  kid: string;
  sequenceId: string;
  sha256: string;
  length: number;
}

export function parseFormSealHeader(blob: Uint8Array): FormSealHeader {
  const { kid, ids, sha256, length } = parseClearHeader(blob, MAGIC, VERSION, 1, "form seal");
  return { kid, sequenceId: ids[0]!, sha256, length };
}

/** Tests and interop only: open a sealed form with the hospital's private key (ECDH P-256). */
export async function openForm(blob: Uint8Array<ArrayBuffer>, privateKey: CryptoKey, sequenceId: string): Promise<SequenceForm> {
  const h = parseFormSealHeader(blob);
  if (h.sequenceId !== sequenceId) throw new SealError("wrong_sequence", "the form was sealed for another sequence");
  if (blob.length < h.length + ENC_LEN + 16) throw new SealError("malformed", "truncated form seal");
  let pt: ArrayBuffer;
  try {
    pt = await hpke().open(
      { recipientKey: privateKey, enc: blob.slice(h.length, h.length + ENC_LEN).buffer, info: concat(INFO_LABEL, blob.slice(0, h.length)) },
      blob.slice(h.length + ENC_LEN).buffer,
    );
  } catch {
    throw new SealError("decrypt_failed", "form seal does not open");
  }
  const bytes = new Uint8Array(pt);
  if (toHex(await sha256(bytes)) !== h.sha256) throw new SealError("hash_mismatch", "plaintext hash differs from the header");
  let text: string;
  let form: SequenceForm;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    form = JSON.parse(text) as SequenceForm;
  } catch {
    throw new SealError("malformed", "the form is not JSON");
  }
  if (typeof form !== "object" || form === null || Array.isArray(form) || canonicalize(form) !== text) {
    throw new SealError("malformed", "the form is not the canonical JSON of an object");
  }
  if (form.sequence_id !== sequenceId) throw new SealError("wrong_sequence", "the form names another sequence");
  return form;
}
