// Records the facade stores. Sealed blobs and encrypted boxes only: nothing here is plaintext
// patient data or image bytes.
import type { Wrapped } from "../crypto/localkey.ts";

export type { Wrapped };

export interface PublicJwk extends JsonWebKey {
  kid: string;
  use?: string;
}

export interface DeviceRecord {
  deviceId: string;
  credential: string;
  label: string;
  keys: PublicJwk[]; // pinned at enrolment
  enrolledAt: string;
  // false between the server's enrolment answer and its confirmation (the credential is stored
  // first, then confirmed); absent on records written before two-step enrolment: confirmed.
  confirmed?: boolean;
}

/** A device record the server has confirmed: the only kind that syncs. */
export function isConfirmed(device: DeviceRecord | undefined): device is DeviceRecord {
  return device !== undefined && device.confirmed !== false;
}

export interface SequenceRecord {
  id: string;
  createdAt: string;
  closedAt?: string;
  expectedViews: string[]; // coded view values, not identifying
  sealedForm: string; // the form (patient id included) sealed to the hospital key at creation (CPF1, base64url): sync needs no unlock, the phone cannot open it
  summary: Wrapped; // patient id and form for display (local key): needs unlock
  personId?: string; // who opened it (also inside the sealed form as person_id)
}

export interface PhotoRecord {
  id: string;
  sequenceId: string;
  view: string;
  capturedAt: string;
  mime: string;
  sha256: string;
  sealedSha256: string;
  sealedSize: number;
  size: number;
  personId?: string; // who took it (the person unlocked when it was taken); absent before people unlocked phones
}

export interface PreviewRecord {
  photoId: string;
  sequenceId: string;
  box: Wrapped; // small JPEG, encrypted under the local key
  createdAt: string;
}

export interface BatchRecord {
  id: string;
  photoIds: string[];
  createdAt: string;
}

export interface ReceiptRecord {
  batchId: string;
  document: unknown;
  storedAt: string;
}

export type Result<T = void> = { ok: true; value: T } | { ok: false; error: StorageError };

export interface StorageError {
  code: "quota_exceeded" | "not_found" | "conflict" | "io";
  message: string;
}

/** A prior photo for the ghost overlay (issue 10): patient, view and image all encrypted under the local key. */
export interface PriorRecord {
  id: string; // random: no patient identifier in a key
  meta: Wrapped; // JSON PriorMeta, additional data: the record id
  image: Wrapped; // the server's de-identified preview JPEG, additional data: the record id
  fetchedAt: string; // ISO time the phone received it; purged after the priorDays setting
}
