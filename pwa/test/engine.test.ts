import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { newId, toBase64Url, utf8 } from "../src/crypto/bytes.ts";
import { canonicalize } from "../src/crypto/jcs.ts";
import { openForm, sealForm } from "../src/crypto/formseal.ts";
import { fromBase64Url } from "../src/crypto/bytes.ts";
import { importSealingKey } from "../src/crypto/seal.ts";
import { Store } from "../src/storage/db.ts";
import { syncAll } from "../src/sync/engine.ts";
import type { Manifest } from "../src/sync/protocol.ts";
import type { Transport, UploadRequest } from "../src/sync/transport.ts";

async function fixture() {
  const store = await Store.open(`e-${newId()}`);
  const sign = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pub = await crypto.subtle.exportKey("jwk", sign.publicKey);
  const deviceId = newId();
  await store.put("device", { deviceId, credential: "cpd_x", label: "t", enrolledAt: "t", keys: [{ ...pub, kid: "sigkid", use: "sig" }] });
  const hospital = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const sealing = await importSealingKey({ ...(await crypto.subtle.exportKey("jwk", hospital.publicKey)), kid: "sealkid" });
  const seqId = newId();
  const sealedForm = (await sealForm({ sequence_id: seqId, patient_id: "12345678", procedure: "rhinoplasty" }, sealing)).sealed;
  await store.addSequence({ id: seqId, createdAt: "t", closedAt: "t", expectedViews: [], sealedForm, summary: { iv: new Uint8Array(12), ct: new ArrayBuffer(1) } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = newId();
    ids.push(id);
    await store.addPhoto({ id, sequenceId: seqId, view: "v", capturedAt: "t", mime: "image/jpeg", sha256: `${i}`.repeat(64), sealedSha256: "e".repeat(64), sealedSize: 3, size: 1 }, new Uint8Array([i, i, i]).buffer);
  }
  return { store, sign, deviceId, ids, hospital, seqId, sealedForm };
}

/** A fake server that keeps what it receives, signs real receipts, and can be told to cheat. */
class FakeServer implements Transport {
  uploads: string[] = [];
  manifests: Manifest[] = [];
  filed = new Set<string>();
  tamper = false;
  hold: string | null = null; // the code the receipt marks every photo held with (its person may not capture)
  failUploadAfter = Infinity;
  constructor(private key: CryptoKey) {}
  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    if (method === "POST" && path === "/api/v1/batches") {
      const m = body as Manifest;
      this.manifests.push(m);
      const have = m.photos.filter((p) => this.filed.has(p.photo_id)).map((p) => p.photo_id);
      return { status: 201, body: { batch_id: m.batch_id, state: "open", missing: m.photos.map((p) => p.photo_id).filter((id) => !have.includes(id)), have } as T };
    }
    if (path.endsWith("/commit")) {
      const m = this.manifests.at(-1)!;
      const receipt = {
        type: "clinphoto.receipt.v1", batch_id: m.batch_id, device_id: m.device_id, issued_at: "t", photo_count: m.photos.length,
        photos: m.photos.map((p) => ({ photo_id: p.photo_id, sequence_id: p.sequence_id, sha256: this.tamper ? "0".repeat(64) : p.sha256, sealed_sha256: p.sealed_sha256, size: 1, ...(this.hold ? { held: this.hold } : {}) })),
      };
      const sig = await crypto.subtle.sign({ name: "Ed25519" }, this.key, utf8(canonicalize(receipt)));
      return { status: 200, body: { receipt, signature: { alg: "Ed25519", kid: "sigkid", sig: toBase64Url(sig) } } as T };
    }
    if (method === "GET" && path.startsWith("/api/v1/batches/")) return { status: 404, body: { error: { code: "not_found" } } as T };
    throw new Error(`unexpected ${method} ${path}`);
  }
  async upload(req: UploadRequest): Promise<void> {
    if (this.uploads.length >= this.failUploadAfter) throw Object.assign(new Error("cut"), { code: "offline" });
    this.uploads.push(req.photoId);
    this.filed.add(req.photoId);
  }
}

describe("sync engine", () => {
  it("sends each sequence as the form sealed at creation, never the patient id in clear, without a device key", async () => {
    const { store, sign, hospital, seqId, sealedForm } = await fixture();
    const server = new FakeServer(sign.privateKey);
    await syncAll(store, server);
    const m = server.manifests[0]!;
    expect(m.sequences).toEqual([{ sequence_id: seqId, sealed_form: sealedForm }]);
    expect(JSON.stringify(m)).not.toContain("12345678");
    expect((await openForm(fromBase64Url(sealedForm), hospital.privateKey, seqId)).patient_id).toBe("12345678");
    await store.destroy();
  });

  it("deletes sealed copies only after a valid receipt", async () => {
    const { store, sign, ids } = await fixture();
    const server = new FakeServer(sign.privateKey);
    server.tamper = true;
    await expect(syncAll(store, server)).rejects.toMatchObject({ code: "receipt_invalid" });
    expect((await store.photos()).length).toBe(3); // nothing deleted
    server.tamper = false;
    const out = await syncAll(store, server);
    expect(out).toEqual({ batches: 1, photosDeleted: 3, photosHeld: 0 });
    expect(await store.photos()).toEqual([]);
    expect(server.uploads.sort()).toEqual([...ids].sort()); // the retry did not upload twice
    expect((await store.receipts()).length).toBe(1);
    expect(await store.sequences()).toEqual([]);
    await store.destroy();
  });

  it("counts the photos the hospital holds in quarantine for their person, and still lets go of them", async () => {
    const { store, sign } = await fixture();
    const server = new FakeServer(sign.privateKey);
    server.hold = "person_revoked";
    expect(await syncAll(store, server)).toEqual({ batches: 1, photosDeleted: 3, photosHeld: 3 });
    expect(await store.photos()).toEqual([]);
    await store.destroy();
  });

  it("resumes a cut sync with the same batch and uploads only what is missing", async () => {
    const { store, sign, ids } = await fixture();
    const server = new FakeServer(sign.privateKey);
    server.failUploadAfter = 1;
    await expect(syncAll(store, server)).rejects.toThrow();
    server.failUploadAfter = Infinity;
    await syncAll(store, server);
    expect(new Set(server.manifests.map((m) => m.batch_id)).size).toBe(1);
    expect(JSON.stringify(server.manifests[0])).toBe(JSON.stringify(server.manifests[1]));
    expect(server.uploads.length).toBe(ids.length);
    expect(await store.photos()).toEqual([]);
    await store.destroy();
  });

  it("checks in with the server even when there is nothing to send", async () => {
    const { store, sign } = await fixture();
    const server = new FakeServer(sign.privateKey);
    await syncAll(store, server);
    const calls: string[] = [];
    const spy: Transport = { call: async (m, p) => (calls.push(`${m} ${p}`), { status: 200, body: null as never }), upload: async () => undefined };
    expect(await syncAll(store, spy)).toEqual({ batches: 0, photosDeleted: 0, photosHeld: 0 });
    expect(calls).toEqual(["GET /api/v1/devices/me"]); // who am I: a revoked phone learns it (401 → wipe)
    await store.destroy();
  });
});
