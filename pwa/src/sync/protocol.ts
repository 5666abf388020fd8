// The sync protocol core (docs/sync-protocol.md), pure: it builds manifests, reads the server's
// answers and checks receipts, and classifies failures. transport.ts does the I/O.

export interface ManifestPhoto {
  photo_id: string;
  sequence_id: string;
  view: string;
  captured_at: string;
  mime: string;
  sha256: string;
  sealed_sha256: string;
  sealed_size: number;
  person_id?: string; // who took it (docs/sync-protocol.md, People on a phone)
}

/**
 * A sequence as the manifest carries it: its id and its form (schemas/sequence.schema.json,
 * patient id included) sealed to the hospital key when the sequence was created (crypto/FORMAT.md,
 * CPF1), base64url. The phone never holds the form for sync in any other way.
 */
export interface SequenceEntry {
  sequence_id: string;
  sealed_form: string;
}

export interface Manifest {
  version: 1;
  batch_id: string;
  created_at: string;
  device_id: string;
  sequences: SequenceEntry[];
  photos: ManifestPhoto[];
}

export interface PhotoLike {
  id: string;
  sequenceId: string;
  view: string;
  capturedAt: string;
  mime: string;
  sha256: string;
  sealedSha256: string;
  sealedSize: number;
  size?: number; // plaintext bytes, checked against the receipt when known
  personId?: string; // who took it
}

const byId = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * The manifest of a batch. Deterministic (sorted by id), so proposing a batch again after a
 * crash sends the same document and the server answers it idempotently.
 */
export function buildManifest(batchId: string, deviceId: string, createdAt: string, sequences: SequenceEntry[], photos: PhotoLike[]): Manifest {
  const wanted = new Set(photos.map((p) => p.sequenceId));
  const seqs = sequences.filter((s) => wanted.has(s.sequence_id)).sort(byId((s) => s.sequence_id));
  const missing = [...wanted].filter((id) => !seqs.some((s) => s.sequence_id === id));
  if (missing.length) throw new SyncError("local_inconsistent", `No sequence record for ${missing.length} photo group(s).`, false);
  return {
    version: 1,
    batch_id: batchId,
    device_id: deviceId,
    created_at: createdAt,
    sequences: seqs,
    photos: [...photos].sort(byId((p) => p.id)).map((p) => ({
      photo_id: p.id,
      sequence_id: p.sequenceId,
      view: p.view,
      captured_at: p.capturedAt,
      mime: p.mime,
      sha256: p.sha256,
      sealed_sha256: p.sealedSha256,
      sealed_size: p.sealedSize,
      ...(p.personId ? { person_id: p.personId } : {}),
    })),
  };
}

export interface BatchLike {
  id: string;
  photoIds: string[];
  createdAt: string;
}

export type BatchPlan = { kind: "resume"; batch: BatchLike } | { kind: "new"; photoIds: string[] } | { kind: "nothing" };

/** An interrupted batch is always finished first, with exactly the same photos; then a new one. */
export function planBatch(openBatches: BatchLike[], pending: { id: string }[], maxPhotos = 50): BatchPlan {
  const present = new Set(pending.map((p) => p.id));
  const resumable = openBatches.find((b) => b.photoIds.length > 0 && b.photoIds.every((id) => present.has(id)));
  if (resumable) return { kind: "resume", batch: resumable };
  const inBatch = new Set(openBatches.flatMap((b) => b.photoIds));
  const fresh = pending.map((p) => p.id).filter((id) => !inBatch.has(id)).sort().slice(0, maxPhotos);
  return fresh.length ? { kind: "new", photoIds: fresh } : { kind: "nothing" };
}

export interface ProposeAnswer {
  batch_id: string;
  state: "open" | "committed";
  missing: string[];
  have: string[];
}

export function readProposeAnswer(manifest: Manifest, body: unknown): ProposeAnswer {
  const a = body as Partial<ProposeAnswer> | null;
  if (!a || a.batch_id !== manifest.batch_id || !Array.isArray(a.missing) || !Array.isArray(a.have)) {
    throw new SyncError("bad_answer", "The server answered the batch proposal in an unexpected way.", true);
  }
  const ids = new Set(manifest.photos.map((p) => p.photo_id));
  if (![...a.missing, ...a.have].every((id) => ids.has(id))) {
    throw new SyncError("bad_answer", "The server named photos that are not in this batch.", true);
  }
  return { batch_id: a.batch_id, state: a.state === "committed" ? "committed" : "open", missing: a.missing, have: a.have };
}

export interface ReceiptPhoto {
  photo_id: string;
  sequence_id: string;
  sha256: string;
  sealed_sha256: string;
  size?: number;
  taken_by?: { person_id: string; name?: string }; // who took it (docs/sync-protocol.md, People on a phone)
  held?: string; // filed in quarantine because of its person (person_revoked, ...): the hospital holds it
}

export interface Receipt {
  type?: string;
  batch_id: string;
  device_id: string;
  issued_at?: string;
  photo_count?: number;
  photos: ReceiptPhoto[];
}

/**
 * What is wrong with a (signature-checked) receipt for `manifest`: empty when it names every
 * photo of the batch, and nothing else, with the hashes the device computed.
 */
export function receiptProblems(manifest: Manifest, receipt: unknown, sizes: Map<string, number> = new Map()): string[] {
  const r = receipt as Partial<Receipt> | null;
  if (!r || typeof r !== "object") return ["not a receipt"];
  const problems: string[] = [];
  if (r.batch_id !== manifest.batch_id) problems.push("receipt is for another batch");
  if (r.device_id !== manifest.device_id) problems.push("receipt is for another device");
  if (!Array.isArray(r.photos)) return [...problems, "receipt lists no photos"];
  if (r.photo_count !== undefined && r.photo_count !== r.photos.length) problems.push("receipt photo count does not match its list");
  const listed = new Map(r.photos.map((p) => [p.photo_id, p]));
  if (listed.size !== r.photos.length) problems.push("receipt lists a photo twice");
  for (const p of manifest.photos) {
    const got = listed.get(p.photo_id);
    if (!got) problems.push(`receipt does not name photo ${p.photo_id}`);
    else if (got.sha256 !== p.sha256 || got.sealed_sha256 !== p.sealed_sha256 || got.sequence_id !== p.sequence_id) {
      problems.push(`receipt hashes differ for photo ${p.photo_id}`);
    } else if (sizes.has(p.photo_id) && got.size !== undefined && got.size !== sizes.get(p.photo_id)) {
      problems.push(`receipt size differs for photo ${p.photo_id}`);
    }
  }
  if (r.photos.length !== manifest.photos.length) problems.push("receipt names photos that are not in this batch");
  return problems;
}

export type SyncErrorCode =
  | "offline" | "server_unavailable" | "device_revoked" | "device_unauthenticated" | "bad_answer"
  | "receipt_invalid" | "batch_conflict" | "photo_conflict" | "upload_failed" | "local_inconsistent" | "not_enrolled"
  | "aborted" | "http_error";

export class SyncError extends Error {
  constructor(readonly code: SyncErrorCode | string, message: string, readonly retryable: boolean, readonly wipe = false) {
    super(message);
  }
}

/** Turn an HTTP failure into a SyncError: what it means, whether to retry, whether to wipe. */
export function classifyHttp(status: number, body: unknown, clearSiteData: string | null): SyncError {
  const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
  const code = err?.code ?? `http_${status}`;
  const message = err?.message ?? `The server answered ${status}.`;
  if (status === 401) {
    const revoked = code === "device_revoked" || (clearSiteData ?? "").includes("storage");
    return revoked
      ? new SyncError("device_revoked", message, false, true)
      : new SyncError("device_unauthenticated", message, false);
  }
  if (status === 408 || status === 429 || status >= 500) return new SyncError("server_unavailable", message, true);
  return new SyncError(code, message, false);
}

/** Automatic retry delays: quick at first, then every minute or so. */
export function retryDelayMs(attempt: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.max(0, attempt));
}
