// One "Sync" action: finish any interrupted batch, then send the rest, batch by batch. Needs no
// unlock: sequence forms and photos were sealed to the hospital key when they were made.
import { newId } from "../crypto/bytes.ts";
import { importSigningKey, verifySignedReceipt, type SignedDocument } from "../crypto/receipt.ts";
import { isConfirmed, type Store } from "../storage/db.ts";
import { buildManifest, planBatch, readProposeAnswer, receiptProblems, SyncError, type Manifest, type ProposeAnswer, type Receipt, type SequenceEntry } from "./protocol.ts";
import type { Transport } from "./transport.ts";

export interface PhotoProgress {
  id: string;
  sent: number;
  size: number;
  state: "waiting" | "sending" | "sent" | "had";
}

export interface SyncProgress {
  batchId: string;
  phase: "proposing" | "uploading" | "committing" | "verifying" | "done";
  photos: PhotoProgress[];
  batchesDone: number;
}

export interface SyncOutcome {
  batches: number;
  photosDeleted: number;
  /** Photos the hospital holds in quarantine because of who took them (revoked, unknown, not on this phone). */
  photosHeld: number;
}

export async function syncAll(
  store: Store, transport: Transport, opts: { signal?: AbortSignal; onProgress?: (p: SyncProgress) => void; now?: () => Date } = {},
): Promise<SyncOutcome> {
  const now = opts.now ?? (() => new Date());
  const device = await store.device();
  if (!isConfirmed(device)) throw new SyncError("not_enrolled", "This phone is not enrolled.", false);
  const sig = device.keys.find((k) => k.use === "sig");
  if (!sig) throw new SyncError("local_inconsistent", "No pinned signing key.", false);
  const signingKey = await importSigningKey(sig);

  let batches = 0;
  let photosDeleted = 0;
  let photosHeld = 0;
  for (let round = 0; round < 100; round++) {
    opts.signal?.throwIfAborted();
    const pending = await store.photos();
    const plan = planBatch(await store.batches(), pending);
    if (plan.kind === "nothing") break;
    const batch = plan.kind === "resume" ? plan.batch : { id: newId(), photoIds: plan.photoIds, createdAt: now().toISOString() };
    if (plan.kind === "new") {
      const added = await store.addBatch(batch);
      if (!added.ok) throw new SyncError("local_inconsistent", added.error.message, false);
    }
    const photos = pending.filter((p) => batch.photoIds.includes(p.id));
    const entries: SequenceEntry[] = [];
    for (const seqId of new Set(photos.map((p) => p.sequenceId))) {
      const seq = await store.sequence(seqId);
      if (!seq) throw new SyncError("local_inconsistent", "A sequence record is missing.", false);
      entries.push({ sequence_id: seq.id, sealed_form: seq.sealedForm });
    }
    const manifest = buildManifest(batch.id, device.deviceId, batch.createdAt, entries, photos);
    const progress: SyncProgress = {
      batchId: batch.id, phase: "proposing", batchesDone: batches,
      photos: photos.map((p) => ({ id: p.id, sent: 0, size: p.sealedSize, state: "waiting" })),
    };
    const report = () => opts.onProgress?.({ ...progress, photos: progress.photos.map((p) => ({ ...p })) });
    report();

    const proposed = await transport.call<ProposeAnswer | { error: { code: string } }>("POST", "/api/v1/batches", manifest, opts.signal);
    if (proposed.status === 409) {
      const code = (proposed.body as { error?: { code?: string } })?.error?.code;
      if (code === "batch_conflict") {
        // Our record of this batch no longer matches what the server holds: start a fresh batch.
        await store.dropBatch(batch.id);
        continue;
      }
      throw new SyncError(code ?? "photo_conflict", "The server refused this batch: a photo conflicts with one it already has.", false);
    }
    const answer = readProposeAnswer(manifest, proposed.body);
    let signed: SignedDocument | undefined;
    if (answer.state === "committed") {
      signed = (await transport.call<SignedDocument>("GET", `/api/v1/batches/${batch.id}/receipt`, undefined, opts.signal)).body;
    } else {
      for (const p of progress.photos) if (answer.have.includes(p.id)) Object.assign(p, { state: "had", sent: p.size });
      progress.phase = "uploading";
      report();
      for (const id of answer.missing) {
        const blob = await store.blob(id);
        const p = progress.photos.find((x) => x.id === id)!;
        if (!blob) throw new SyncError("local_inconsistent", "A sealed photo is missing on this phone.", false);
        p.state = "sending";
        report();
        await transport.upload({
          blob, batchId: batch.id, photoId: id, signal: opts.signal,
          onProgress: (sent) => {
            p.sent = sent;
            report();
          },
        });
        Object.assign(p, { state: "sent", sent: p.size });
        report();
      }
      progress.phase = "committing";
      report();
      const committed = await transport.call<SignedDocument | { error: { code: string } }>("POST", `/api/v1/batches/${batch.id}/commit`, {}, opts.signal);
      if (committed.status === 409) {
        const code = (committed.body as { error?: { code?: string } })?.error?.code;
        if (code !== "batch_already_committed") throw new SyncError(code ?? "batch_incomplete", "The server is still missing photos of this batch; sync will try again.", true);
        signed = (await transport.call<SignedDocument>("GET", `/api/v1/batches/${batch.id}/receipt`, undefined, opts.signal)).body;
      } else {
        signed = committed.body as SignedDocument;
      }
    }
    progress.phase = "verifying";
    report();
    await checkReceipt(signed, manifest, signingKey, sig.kid, new Map(photos.map((p) => [p.id, p.size])));
    const settled = await store.settleBatch(batch.id, signed, batch.photoIds, now().toISOString());
    if (!settled.ok) throw new SyncError("local_inconsistent", settled.error.message, true);
    photosDeleted += settled.value.deleted.length;
    photosHeld += (signed!.receipt as Receipt).photos.filter((p) => p.held).length; // checked by checkReceipt
    batches++;
    progress.phase = "done";
    progress.batchesDone = batches;
    report();
  }
  if (batches === 0) {
    // Nothing to send: still contact the server ("who am I"), so a revoked phone learns it (401 → wipe).
    await transport.call("GET", "/api/v1/devices/me", undefined, opts.signal);
  }
  await store.dropEmptyClosedSequences();
  return { batches, photosDeleted, photosHeld };
}

async function checkReceipt(signed: SignedDocument | undefined, manifest: Manifest, key: CryptoKey, kid: string, sizes: Map<string, number>): Promise<void> {
  if (!signed || !(await verifySignedReceipt(signed, key, kid))) {
    throw new SyncError("receipt_invalid", "The server's receipt is not signed by the hospital key. Nothing was deleted.", false);
  }
  const problems = receiptProblems(manifest, signed.receipt, sizes);
  if (problems.length) throw new SyncError("receipt_invalid", `The receipt does not match what was sent (${problems[0]}). Nothing was deleted.`, false);
}
