// Form seal v1 (crypto/FORMAT.md, CPF1): a sequence's form (patient identifier + qualification)
// sealed to the hospital's P-256 key when the sequence is created. The phone keeps only these
// bytes for sync: it can sync without unlocking, and a copy of its profile yields no patient
// identity. Same HPKE suite as the photo seal, its own magic and info label, so a photo can never
// pass for a form or the reverse. openForm exists for tests and interop checks only.
import { concat, sha256, toBase64Url, toHex, utf8, uuidBytes } from "./bytes.ts";
import { canonicalize } from "./jcs.ts";
import { hpke, SealError, uuidText, type SealingKey } from "./seal.ts";

const MAGIC = utf8("CPF1");
const VERSION = 0x01;
const INFO_LABEL = utf8("clinphoto/seal-form/v1");
const ENC_LEN = 65;
const KID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
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
  if (!KID_RE.test(kid)) throw new SealError("invalid_argument", "kid must be 1..64 base64url characters");
  if (!UUID_RE.test(sequenceId)) throw new SealError("invalid_argument", "sequence_id must be a canonical lowercase UUID");
  const kidBytes = utf8(kid);
  return concat(MAGIC, new Uint8Array([VERSION, kidBytes.length]), kidBytes, uuidBytes(sequenceId), digest);
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
  if (blob.length < 55 || toHex(blob.subarray(0, 4)) !== toHex(MAGIC)) throw new SealError("malformed", "not a ClinPhoto form seal");
  if (blob[4] !== VERSION) throw new SealError("malformed", "unsupported form seal version");
  const kidLen = blob[5]!;
  const length = 6 + kidLen + 48;
  if (kidLen < 1 || kidLen > 64 || blob.length < length) throw new SealError("malformed", "bad header");
  const at = 6 + kidLen;
  return {
    kid: new TextDecoder().decode(blob.subarray(6, at)),
    sequenceId: uuidText(blob.subarray(at, at + 16)),
    sha256: toHex(blob.subarray(at + 16, at + 48)),
    length,
  };
}

/** Tests and interop only: open a sealed form with the hospital's private key (ECDH P-256). */
export async function openForm(blob: Uint8Array<ArrayBuffer>, privateKey: CryptoKey, sequenceId: string): Promise<SequenceForm> {
  const h = parseFormSealHeader(blob);
  if (h.sequenceId !== sequenceId) throw new SealError("open_failed", "the form was sealed for another sequence");
  if (blob.length < h.length + ENC_LEN + 16) throw new SealError("malformed", "truncated form seal");
  let pt: ArrayBuffer;
  try {
    pt = await hpke().open(
      { recipientKey: privateKey, enc: blob.slice(h.length, h.length + ENC_LEN).buffer, info: concat(INFO_LABEL, blob.slice(0, h.length)) },
      blob.slice(h.length + ENC_LEN).buffer,
    );
  } catch {
    throw new SealError("open_failed", "form seal does not open");
  }
  const bytes = new Uint8Array(pt);
  if (toHex(await sha256(bytes)) !== h.sha256) throw new SealError("open_failed", "plaintext hash mismatch");
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  const form = JSON.parse(text) as SequenceForm;
  if (canonicalize(form) !== text || form.sequence_id !== sequenceId) throw new SealError("open_failed", "not the canonical form of this sequence");
  return form;
}
