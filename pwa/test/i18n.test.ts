import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorText } from "../src/i18n/errors.ts";
import { formatDateTime, plural } from "../src/i18n/index.ts";
import { en, fr } from "../src/i18n/messages.ts";

const SRC = new URL("../src/", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(SRC, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [readFileSync(join(SRC, dir, e.name), "utf8")] : []);
}

/** Message families of the capture app (the people's console has its own). */
const CAPTURE = /^(home|sync|capture|form|unlock|setup|settings|storage|error|count|patient|wiped|pin)\./;

describe("every word in both languages", () => {
  it("has a French and an English sentence for every error code the sync, storage and camera can raise", () => {
    const codes = new Set<string>();
    for (const text of [...sources("sync"), ...sources("storage")]) {
      for (const m of text.matchAll(/new SyncError\("([a-z_]+)"/g)) codes.add(m[1]!);
      for (const m of text.matchAll(/code: "([a-z_]+)"/g)) codes.add(m[1]!);
    }
    for (const m of readFileSync(join(SRC, "storage/types.ts"), "utf8").matchAll(/"([a-z_]+)"/g)) if (/^(quota_exceeded|not_found|conflict|io)$/.test(m[1]!)) codes.add(m[1]!);
    for (const c of ["camera_denied", "camera_missing", "camera_busy", "camera_failed", "device_revoked", "device_unauthenticated", "server_unavailable"]) codes.add(c);
    expect(codes.size).toBeGreaterThan(15);
    for (const code of codes) {
      expect(Object.keys(en), code).toContain(`error.${code}`);
      expect(errorText(code, "fr")).not.toBe(errorText(code, "en"));
    }
    expect(errorText("something_new", "fr")).toBe("Le serveur a refusé la demande (code something_new).");
  });

  it("counts by the language's plural rule, with no '(s)' left in the capture app", () => {
    for (const table of [en, fr]) {
      for (const [k, v] of Object.entries(table)) if (CAPTURE.test(k)) expect(v, k).not.toMatch(/\(s\)/);
    }
    expect(plural("capture.complete", 1, { done: 1, total: 6 }, "fr")).toBe("1 vue sur 6");
    expect(plural("capture.complete", 0, { done: 0, total: 6 }, "fr")).toBe("0 vue sur 6");
    expect(plural("capture.complete", 2, { done: 2, total: 6 }, "fr")).toBe("2 vues sur 6");
    expect(plural("count.photos", 1, {}, "en")).toBe("1 photo");
    expect(plural("count.photos", 0, {}, "en")).toBe("0 photos");
    expect(plural("count.sequences", 3, {}, "fr")).toBe("3 séquences");
    expect(plural("sync.batch", 1, { total: 3 }, "fr")).toBe("1 photo envoyée sur 3");
    expect(plural("sync.batch", 2, { total: 3 }, "fr")).toBe("2 photos envoyées sur 3");
  });

  it("writes dates the way each language does", () => {
    const d = "2026-12-03T14:05:00Z";
    expect(formatDateTime(d, "fr")).toMatch(/3 déc\. 2026/);
    expect(formatDateTime(d, "en")).toMatch(/3 Dec 2026/);
  });
});
