import { describe, expect, it } from "vitest";
import { buildManifest, classifyHttp, planBatch, readProposeAnswer, receiptProblems, retryDelayMs } from "../src/sync/protocol.ts";

const S1 = "11111111-1111-4111-8111-111111111111";
const P1 = "a1111111-1111-4111-8111-111111111111";
const P2 = "a2222222-2222-4222-8222-222222222222";

const photo = (id: string) => ({ id, sequenceId: S1, view: "399033003", capturedAt: "t", mime: "image/jpeg", sha256: id[1]!.repeat(64), sealedSha256: "f".repeat(64), sealedSize: 9 });

describe("sync protocol core", () => {
  it("builds the same manifest whatever the order of its inputs", () => {
    const seq = { sequence_id: S1, sealed_form: "Q1BGMQ" };
    const a = buildManifest("b", "d", "2026-01-01T00:00:00Z", [seq], [photo(P2), photo(P1)]);
    const b = buildManifest("b", "d", "2026-01-01T00:00:00Z", [seq], [photo(P1), photo(P2)]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.photos.map((p) => p.photo_id)).toEqual([P1, P2]);
    expect(() => buildManifest("b", "d", "2026-01-01T00:00:00Z", [], [photo(P1)])).toThrow();
  });

  it("names who took each photo when the phone knows (person_id), and nobody for older photos", () => {
    const seq = { sequence_id: S1, sealed_form: "Q1BGMQ" };
    const bob = "b0b00000-0000-4000-8000-000000000001";
    const m = buildManifest("b", "d", "2026-01-01T00:00:00Z", [seq], [{ ...photo(P1), personId: bob }, photo(P2)]);
    expect(m.photos.map((p) => p.person_id)).toEqual([bob, undefined]);
    expect("person_id" in m.photos[1]!).toBe(false);
  });

  it("resumes an interrupted batch before starting another", () => {
    expect(planBatch([{ id: "b1", photoIds: [P1], createdAt: "t" }], [{ id: P1 }, { id: P2 }])).toEqual({ kind: "resume", batch: { id: "b1", photoIds: [P1], createdAt: "t" } });
    expect(planBatch([], [{ id: P2 }, { id: P1 }])).toEqual({ kind: "new", photoIds: [P1, P2] });
    expect(planBatch([], [])).toEqual({ kind: "nothing" });
  });

  it("checks the proposal answer names only photos of the batch", () => {
    const m = buildManifest("b", "d", "2026-01-01T00:00:00Z", [{ sequence_id: S1, sealed_form: "Q1BGMQ" }], [photo(P1)]);
    expect(readProposeAnswer(m, { batch_id: "b", state: "open", missing: [P1], have: [] }).missing).toEqual([P1]);
    expect(() => readProposeAnswer(m, { batch_id: "b", state: "open", missing: [P2], have: [] })).toThrow();
    expect(() => readProposeAnswer(m, { batch_id: "x", missing: [], have: [] })).toThrow();
  });

  it("finds every way a receipt can disagree with the manifest", () => {
    const m = buildManifest("b", "d", "2026-01-01T00:00:00Z", [{ sequence_id: S1, sealed_form: "Q1BGMQ" }], [photo(P1), photo(P2)]);
    const good = {
      batch_id: "b", device_id: "d", photo_count: 2,
      photos: m.photos.map((p) => ({ photo_id: p.photo_id, sequence_id: p.sequence_id, sha256: p.sha256, sealed_sha256: p.sealed_sha256, size: 5 })),
    };
    expect(receiptProblems(m, good)).toEqual([]);
    expect(receiptProblems(m, { ...good, batch_id: "c" })).toHaveLength(1);
    expect(receiptProblems(m, { ...good, photos: good.photos.slice(1), photo_count: 1 })).not.toEqual([]);
    expect(receiptProblems(m, { ...good, photos: [{ ...good.photos[0]!, sha256: "0".repeat(64) }, good.photos[1]] })).not.toEqual([]);
    expect(receiptProblems(m, null)).not.toEqual([]);
    expect(receiptProblems(m, good, new Map([[P1, 6]]))).toHaveLength(1);
  });

  it("classifies failures: revoked means wipe, 5xx means retry", () => {
    const revoked = classifyHttp(401, { error: { code: "device_revoked", message: "Revoked" } }, '"storage"');
    expect([revoked.code, revoked.wipe, revoked.retryable]).toEqual(["device_revoked", true, false]);
    const unknown = classifyHttp(401, { error: { code: "device_unauthenticated", message: "x" } }, null);
    expect(unknown.wipe).toBe(false);
    expect(classifyHttp(503, null, null).retryable).toBe(true);
    expect(classifyHttp(400, { error: { code: "schema_invalid", message: "m" } }, null).code).toBe("schema_invalid");
    expect(retryDelayMs(0)).toBe(2000);
    expect(retryDelayMs(20)).toBe(60000);
  });
});

import { fits } from "../src/storage/health.ts";
import { detectLang, formatAge, t } from "../src/i18n/index.ts";
import { en, fr } from "../src/i18n/messages.ts";

describe("storage health and language", () => {
  it("refuses a sequence that cannot fit", () => {
    expect(fits({ usage: 0, quota: 10 * 2 ** 30 }, 6).ok).toBe(true);
    const tight = fits({ usage: 990 * 2 ** 20, quota: 1000 * 2 ** 20 }, 6);
    expect(tight.ok).toBe(false);
    expect(tight.free).toBe(10 * 2 ** 20);
  });
  it("picks French or English from the browser and has every message in both", () => {
    expect(detectLang(["fr-CA", "en"])).toBe("fr");
    expect(detectLang(["de-DE", "en-US"])).toBe("en");
    expect(detectLang(["de"])).toBe("en");
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    expect(t("capture.retake", {}, "fr")).toBe("Refaire la photo");
    expect(formatAge(3 * 3600_000, "en")).toBe("3 h");
  });
});
