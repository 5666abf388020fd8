// Capture to durable: strip location metadata, hash and seal at once, store the sealed blob in
// one strictly durable IndexedDB transaction; then a small encrypted preview. Plaintext is never
// written anywhere.
import { newId } from "../crypto/bytes.ts";
import { encrypt } from "../crypto/localkey.ts";
import { sealPhoto, type SealingKey } from "../crypto/seal.ts";
import type { PhotoRecord, Result, Store } from "../storage/db.ts";
import { isJpeg, stripAppSegments } from "./strip.ts";

export interface CaptureContext {
  store: Store;
  sealing: SealingKey;
  sequenceId: string;
  view: string;
  localKey: CryptoKey | null;
  now?: () => Date;
  /** The person unlocked now: who takes the photo (the manifest's person_id). */
  personId?: string;
}

export interface CaptureTimings {
  sealMs: number;
  storeMs: number;
}

export type CaptureResult = Result<{ photo: PhotoRecord; timings: CaptureTimings }>;

export async function captureBytes(input: Uint8Array<ArrayBuffer>, ctx: CaptureContext): Promise<CaptureResult> {
  if (!isJpeg(input)) return { ok: false, error: { code: "io", message: "not a JPEG" } };
  const t0 = performance.now();
  const bytes = stripAppSegments(input);
  const id = newId();
  const sealed = await sealPhoto(bytes, ctx.sealing, id, ctx.sequenceId);
  const t1 = performance.now();
  const photo: PhotoRecord = {
    id, sequenceId: ctx.sequenceId, view: ctx.view, capturedAt: (ctx.now?.() ?? new Date()).toISOString(), mime: "image/jpeg",
    sha256: sealed.sha256, sealedSha256: sealed.sealedSha256, sealedSize: sealed.blob.byteLength, size: sealed.size,
    ...(ctx.personId ? { personId: ctx.personId } : {}),
  };
  const stored = await ctx.store.addPhoto(photo, sealed.blob);
  const t2 = performance.now();
  if (!stored.ok) return stored;
  return { ok: true, value: { photo, timings: { sealMs: t1 - t0, storeMs: t2 - t1 } } };
}

/** A small JPEG preview (640 px wide: enough to review framing full screen), encrypted under the local key, written after the photo. */
export async function storePreview(store: Store, photo: PhotoRecord, source: Blob, localKey: CryptoKey): Promise<Result> {
  try {
    const bitmap = await createImageBitmap(source, { resizeWidth: 640, resizeQuality: "medium" });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    canvas.getContext("2d")!.drawImage(bitmap, 0, 0);
    bitmap.close();
    const small = new Uint8Array(await (await canvas.convertToBlob({ type: "image/jpeg", quality: 0.7 })).arrayBuffer());
    const box = await encrypt(localKey, small);
    small.fill(0);
    return store.addPreview({ photoId: photo.id, sequenceId: photo.sequenceId, box, createdAt: new Date().toISOString() });
  } catch (e) {
    return { ok: false, error: { code: "io", message: String((e as Error).message ?? e) } };
  }
}
