// Runs in Chromium: capture to durably stored (strip, hash, HPKE seal, strict IndexedDB commit)
// for a 12 MP JPEG, with the app's own pipeline.
import { captureBytes } from "../src/capture/pipeline.ts";
import { newId } from "../src/crypto/bytes.ts";
import { importSealingKey } from "../src/crypto/seal.ts";
import { Store } from "../src/storage/db.ts";

async function twelveMegapixelJpeg(): Promise<Uint8Array<ArrayBuffer>> {
  const w = 4000;
  const h = 3000;
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(w, h);
  const d = img.data;
  let seed = 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = (seed >> 16) % 24;
      const i = (y * w + x) * 4;
      d[i] = (200 + 40 * Math.sin(x / 150) + n) | 0;
      d[i + 1] = (150 + 50 * Math.cos(y / 120) + n) | 0;
      d[i + 2] = (130 + 30 * Math.sin((x + y) / 200) + n) | 0;
      d[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  const blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.9 });
  return new Uint8Array(await blob.arrayBuffer());
}

(window as unknown as { runBench: (n: number) => Promise<unknown> }).runBench = async (n: number) => {
  const kp = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const sealing = await importSealingKey({ ...(await crypto.subtle.exportKey("jwk", kp.publicKey)), kid: "bench" });
  const store = await Store.open(`bench-${Date.now()}`);
  const jpeg = await twelveMegapixelJpeg();
  const sequenceId = newId();
  const total: number[] = [];
  const seal: number[] = [];
  const commit: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = jpeg.slice();
    const t0 = performance.now();
    const r = await captureBytes(input, { store, sealing, sequenceId, view: "frontal", localKey: null });
    total.push(performance.now() - t0);
    if (!r.ok) throw new Error(r.error.message);
    seal.push(r.value.timings.sealMs);
    commit.push(r.value.timings.storeMs);
  }
  await store.destroy();
  return { bytes: jpeg.length, total, seal, commit };
};
(window as unknown as { benchReady: boolean }).benchReady = true;
