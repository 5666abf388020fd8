// Storage health: persistence, usage, the 80 % warning and whether a new sequence fits.
export interface Health {
  usage: number;
  quota: number;
  percent: number;
  persisted: boolean;
  warn: boolean;
}

/** A 12 MP JPEG is 3 to 8 MB; sealing adds ~150 bytes. Reserve generously per expected view. */
export const BYTES_PER_PHOTO = 8 * 1024 * 1024;
const MARGIN = 32 * 1024 * 1024;

export async function requestPersistence(): Promise<boolean> {
  try {
    return (await navigator.storage?.persisted?.()) || ((await navigator.storage?.persist?.()) ?? false);
  } catch {
    return false;
  }
}

export async function health(): Promise<Health> {
  const est = (await navigator.storage?.estimate?.().catch(() => undefined)) ?? {};
  const usage = est.usage ?? 0;
  const quota = est.quota ?? 0;
  const percent = quota ? Math.round((usage / quota) * 100) : 0;
  const persisted = (await navigator.storage?.persisted?.().catch(() => false)) ?? false;
  return { usage, quota, percent, persisted, warn: percent >= 80 };
}

/** Bytes a sequence of `views` photos needs, and whether it fits in what is free. */
export function fits(h: Pick<Health, "usage" | "quota">, views: number): { ok: boolean; needed: number; free: number } {
  const needed = Math.max(1, views) * BYTES_PER_PHOTO + MARGIN;
  const free = Math.max(0, h.quota - h.usage);
  return { ok: h.quota === 0 || free >= needed, needed, free };
}
