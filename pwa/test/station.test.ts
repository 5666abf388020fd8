import { describe, expect, it } from "vitest";
import { en, fr } from "../src/i18n/messages.ts";
import { statusReport } from "../src/sync/auto.ts";
import { SyncError, type SyncErrorCode } from "../src/sync/protocol.ts";
import { ago, counted, KNOWN_SYNC_ERRORS, reason } from "../src/ui/station/format.ts";

const held = { pending_photos: 8, pending_sequences: 2, oldest_pending_at: "2026-12-03T04:00:00.000Z" };

describe("what the phone tells the station", () => {
  it("is counts and a state, never more", () => {
    const idle = statusReport(held, { running: false });
    expect(idle).toEqual({ ...held, sync_state: "idle", progress: null, last_error_code: null });
    expect(Object.keys(idle).sort()).toEqual(
      ["last_error_code", "oldest_pending_at", "pending_photos", "pending_sequences", "progress", "sync_state"]);
  });

  it("reports progress while syncing, never more done than total", () => {
    expect(statusReport(held, { running: true, done: 3, total: 8 }).progress).toEqual({ done: 3, total: 8 });
    expect(statusReport(held, { running: true, done: 9, total: 8 }).progress).toEqual({ done: 8, total: 8 });
    expect(statusReport(held, { running: true }).progress).toBeNull(); // not counted yet
  });

  it("reports the last error as a stable code, and a code the server would refuse as http_error", () => {
    const failed = statusReport(held, { running: false, error: new SyncError("offline", "The server cannot be reached.", true) });
    expect([failed.sync_state, failed.last_error_code]).toEqual(["error", "offline"]);
    const odd = statusReport(held, { running: false, error: new SyncError("Weird Code", "x", false) });
    expect(odd.last_error_code).toBe("http_error");
  });
});

describe("the station's words", () => {
  it("counts with the language's plural rules", () => {
    expect(counted("station.photos", 1, {}, "en")).toBe("1 photo");
    expect(counted("station.photos", 0, {}, "en")).toBe("0 photos");
    expect(counted("station.photos", 0, {}, "fr")).toBe("0 photo");
    expect(counted("station.sequences", 2, {}, "fr")).toBe("2 séquences");
    expect(counted("station.photos", 1200, {}, "fr")).toMatch(/^1\s200 photos$/);
  });

  it("says ages relative to now, by locale", () => {
    const now = Date.parse("2026-12-03T07:00:00Z");
    expect(ago("2026-12-03T04:00:00Z", now, "en")).toBe("3 hr. ago");
    expect(ago("2026-12-03T04:00:00Z", now, "fr")).toMatch(/^il y a 3\sh$/);
    expect(ago("2026-12-03T06:58:30Z", now, "en")).toBe("1 min. ago");
    expect(ago("2026-11-30T07:00:00Z", now, "fr")).toMatch(/^il y a 3\sj$/);
  });

  it("has words in both languages for every sync error code the phone can report", () => {
    const codes: SyncErrorCode[] = ["offline", "server_unavailable", "device_revoked", "device_unauthenticated", "bad_answer",
      "receipt_invalid", "batch_conflict", "photo_conflict", "upload_failed", "local_inconsistent", "not_enrolled", "aborted", "http_error"];
    for (const code of codes) expect(KNOWN_SYNC_ERRORS).toContain(code);
    for (const code of KNOWN_SYNC_ERRORS) {
      expect(reason(code, "en")).not.toBe(`error ${code}`);
      expect(reason(code, "fr")).not.toBe(reason(code, "en"));
    }
    expect(reason("seal_invalid", "fr")).toBe("erreur seal_invalid");
    const keys = Object.keys(en).filter((k) => k.startsWith("station."));
    for (const k of keys) expect((fr as Record<string, string>)[k], k).toBeTruthy();
  });
});
