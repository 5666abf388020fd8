// Priors for the ghost overlay (issue 10, point 5): the latest photo of each view of a patient, fetched from
// the server while online (GET /api/v1/devices/me/priors), kept encrypted under the local (unlock) key like
// previews, shown faintly over the viewfinder, and purged after the `priorDays` phone setting (default 7).
import { decrypt, decryptJson, encrypt, encryptJson } from "../crypto/localkey.ts";
import { fromBase64Url, newId, utf8 } from "../crypto/bytes.ts";
import type { PriorRecord, Store } from "../storage/db.ts";
import { callJson } from "../sync/transport.ts";

/** Phone setting: days a fetched prior is kept. */
export const PRIOR_DAYS_SETTING = "priorDays";
export const DEFAULT_PRIOR_DAYS = 7;
const DAY_MS = 86_400_000;

export interface PriorMeta {
  patientId: string;
  view: string;
  photoId: string;
  capturedAt: string;
}

interface PriorsAnswer {
  patient_id: string;
  priors: { view: string; photo_id: string; captured_at: string; jpeg: string }[];
}

/** Priors fetched before this time are purged (`days` not a positive number: the default). */
export function purgeBefore(now: Date, days: number | undefined): string {
  const keep = typeof days === "number" && Number.isFinite(days) && days > 0 ? days : DEFAULT_PRIOR_DAYS;
  return new Date(now.getTime() - keep * DAY_MS).toISOString();
}

/** Drop priors older than the phone setting; the number dropped. */
export async function purgeOldPriors(store: Store, now = new Date()): Promise<number> {
  return store.purgePriors(purgeBefore(now, await store.setting<number>(PRIOR_DAYS_SETTING)));
}

async function metaOf(key: CryptoKey, p: PriorRecord): Promise<PriorMeta | null> {
  try {
    return await decryptJson<PriorMeta>(key, p.meta, p.id);
  } catch {
    return null; // another local key (after a PIN reset): unreadable, purged in time
  }
}

/** Fetch a patient's priors from the server and keep them, replacing that patient's older ones. */
export async function fetchPriors(
  store: Store, base: string, key: CryptoKey, patientId: string, signal?: AbortSignal, now = new Date(),
): Promise<number> {
  const device = await store.device();
  if (!device) return 0;
  const answer = await callJson<PriorsAnswer>(base, device.credential, "GET",
    `/api/v1/devices/me/priors?patient_id=${encodeURIComponent(patientId)}`, undefined, signal);
  const fetchedAt = now.toISOString();
  const add: PriorRecord[] = [];
  for (const p of answer.body.priors) {
    const id = newId();
    const meta: PriorMeta = { patientId, view: p.view, photoId: p.photo_id, capturedAt: p.captured_at };
    add.push({ id, fetchedAt, meta: await encryptJson(key, meta, id), image: await encrypt(key, fromBase64Url(p.jpeg), utf8(id)) });
  }
  const drop: string[] = [];
  for (const p of await store.priors()) if ((await metaOf(key, p))?.patientId === patientId) drop.push(p.id);
  const r = await store.replacePriors(drop, add);
  if (!r.ok) throw new Error(r.error.message);
  return add.length;
}

/** The JPEG of this patient's prior for this view, or null; never another patient's. */
export async function priorImage(store: Store, key: CryptoKey, patientId: string, view: string): Promise<{ jpeg: ArrayBuffer; meta: PriorMeta } | null> {
  for (const p of await store.priors()) {
    const meta = await metaOf(key, p);
    if (meta && meta.patientId === patientId && meta.view === view) {
      return { jpeg: await decrypt(key, p.image, utf8(p.id)), meta };
    }
  }
  return null;
}

/** Today's patients on this phone: those of the sequences opened today (local day), read from their summaries. */
export async function todaysPatients(store: Store, key: CryptoKey, now = new Date()): Promise<string[]> {
  const day = now.toDateString();
  const ids = new Set<string>();
  for (const seq of await store.sequences()) {
    if (new Date(seq.createdAt).toDateString() !== day) continue;
    try {
      ids.add((await decryptJson<{ patientId: string }>(key, seq.summary, seq.id)).patientId);
    } catch {
      /* summary under another local key: not readable, nothing to fetch */
    }
  }
  return [...ids].sort();
}

/** Refresh the priors of today's patients (unlocked, online); failures leave what is kept. */
export async function prefetchToday(store: Store, base: string, key: CryptoKey, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for (const patientId of await todaysPatients(store, key)) {
    if (signal?.aborted) break;
    n += await fetchPriors(store, base, key, patientId, signal).catch(() => 0);
  }
  return n;
}
