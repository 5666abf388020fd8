// In-page dump of everything the app keeps: every IndexedDB record and every Cache Storage
// body, as bytes, so a test can look for JPEG signatures and patient identifiers in clear.
import type { Page } from "playwright-core";

export interface Dump {
  values: { where: string; bytes: number[] }[];
  photos: { id: string; sha256: string; sealedSha256: string }[];
  receipts: unknown[];
  cryptoKeys: string[]; // where a CryptoKey object is stored: a profile copy would hold it too
  sealedForms: string[]; // sequences' sealed_form, as kept for sync
}

export async function dumpStorage(page: Page): Promise<Dump> {
  return page.evaluate(async () => {
    const enc = new TextEncoder();
    const values: { where: string; bytes: number[] }[] = [];
    const flatten = (v: unknown, where: string): void => {
      if (v instanceof ArrayBuffer) values.push({ where, bytes: [...new Uint8Array(v)] });
      else if (ArrayBuffer.isView(v)) values.push({ where, bytes: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] });
      else if (typeof v === "string") values.push({ where, bytes: [...enc.encode(v)] });
      else if (Array.isArray(v)) v.forEach((x, i) => flatten(x, `${where}[${i}]`));
      else if (v instanceof CryptoKey) cryptoKeys.push(where);
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) flatten(x, `${where}.${k}`);
    };
    const photos: { id: string; sha256: string; sealedSha256: string }[] = [];
    const receipts: unknown[] = [];
    const cryptoKeys: string[] = [];
    const sealedForms: string[] = [];
    for (const info of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open(info.name!);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      for (const store of [...db.objectStoreNames]) {
        const all = await new Promise<{ keys: IDBValidKey[]; vals: unknown[] }>((res, rej) => {
          const tx = db.transaction(store);
          const k = tx.objectStore(store).getAllKeys();
          const v = tx.objectStore(store).getAll();
          tx.oncomplete = () => res({ keys: k.result, vals: v.result });
          tx.onerror = () => rej(tx.error);
        });
        all.vals.forEach((v, i) => {
          flatten(v, `${info.name}/${store}/${String(all.keys[i])}`);
          flatten(String(all.keys[i]), `${info.name}/${store}/key`);
          if (store === "photos") photos.push(v as { id: string; sha256: string; sealedSha256: string });
          if (store === "receipts") receipts.push(v);
          if (store === "sequences") sealedForms.push((v as { sealedForm: string }).sealedForm);
        });
      }
      db.close();
    }
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const req of await cache.keys()) {
        const res = await cache.match(req);
        if (res) values.push({ where: `cache/${name}/${req.url}`, bytes: [...new Uint8Array(await res.arrayBuffer())] });
      }
    }
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i)!;
      values.push({ where: `localStorage/${k}`, bytes: [...enc.encode(`${k}=${localStorage.getItem(k)}`)] });
    }
    return { values, photos, receipts, cryptoKeys, sealedForms };
  });
}

function indexOf(hay: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Where a JPEG or the identifier shows in clear; empty when nothing does. */
export function leaks(dump: Dump, patientId: string): string[] {
  const out: string[] = [];
  const id = [...new TextEncoder().encode(patientId)];
  const id16 = [...patientId].flatMap((c) => [c.charCodeAt(0), 0]);
  for (const v of dump.values) {
    if (v.where.startsWith("cache/") && /\.(js|css|html|webmanifest|png)$|\/$/.test(v.where)) {
      // The app shell: no photo in it, and it cannot know a patient.
      if (indexOf(v.bytes, id) >= 0) out.push(`${v.where}: patient id`);
      continue;
    }
    if (v.bytes[0] === 0xff && v.bytes[1] === 0xd8 && v.bytes[2] === 0xff) out.push(`${v.where}: starts with a JPEG signature`);
    for (const m of [0xe0, 0xe1, 0xdb]) if (indexOf(v.bytes, [0xff, 0xd8, 0xff, m]) >= 0) out.push(`${v.where}: JPEG signature`);
    if (indexOf(v.bytes, [...new TextEncoder().encode("JFIF")]) >= 0) out.push(`${v.where}: JFIF`);
    if (indexOf(v.bytes, id) >= 0 || indexOf(v.bytes, id16) >= 0) out.push(`${v.where}: patient id`);
  }
  return out;
}
