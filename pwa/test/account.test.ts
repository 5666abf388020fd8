// The people's console: which screens each role opens, where a person lands, the break-glass
// countdown and refusals in words.
import { describe, expect, it } from "vitest";
import { PeopleError } from "../src/ui/people/api.ts";
import { grantsOf, homeFor, mayOpen, screensFor } from "../src/ui/people/Console.tsx";
import { problem, remaining } from "../src/ui/people/format.ts";
import { isPeopleHash } from "../src/ui/people/PeopleApp.tsx";

describe("console screens by role", () => {
  it("opens the account and officer fragments in the console, nothing malformed", () => {
    for (const h of ["#/account", "#/break-glass", "#/officer", "#/officer/alerts", "#/officer/restricted", "#/officer/entry/42"]) expect(isPeopleHash(h)).toBe(true);
    for (const h of ["#/officer/", "#/officer/entry/", "#/officer/entry/0", "#/officer/entry/-1", "#/officer/entry/1x", "#/accounts"]) expect(isPeopleHash(h)).toBe(false);
  });

  it("gives each role exactly its screens", () => {
    const hashes = (roles: string[]) => screensFor(roles).map((s) => s.hash);
    expect(hashes(["nurse"])).toEqual(["#/station", "#/account"]);
    expect(hashes(["surgeon"])).toEqual(["#/patients", "#/stats", "#/break-glass", "#/account"]);
    expect(hashes(["security_officer"])).toEqual(["#/officer", "#/officer/alerts", "#/officer/restricted", "#/break-glass", "#/account"]);
    expect(hashes(["administrator"])).toEqual(["#/admin", "#/station", "#/stats", "#/break-glass", "#/account"]);
    expect(mayOpen(["security_officer"], "#/officer/entry/7")).toBe(true);
    expect(mayOpen(["administrator"], "#/officer/entry/7")).toBe(false);
    expect(mayOpen(["nurse"], "#/break-glass")).toBe(false);
    expect(mayOpen(["surgeon"], "#/signin")).toBe(false);
  });

  it("opens the patients' screens to an officer or administrator only while their emergency access lasts", () => {
    const now = Date.parse("2026-12-03T10:00:00Z");
    const open = grantsOf(["security_officer"], "2026-12-03T10:30:00Z", now);
    expect(open).toEqual(["security_officer", "break_glass"]);
    expect(mayOpen(open, "#/patients/IPP-0042")).toBe(true);
    expect(screensFor(open).map((s) => s.hash)[0]).toBe("#/patients");
    const ended = grantsOf(["security_officer"], "2026-12-03T09:59:59Z", now);
    expect(mayOpen(ended, "#/patients")).toBe(false);
    expect(mayOpen(grantsOf(["administrator"], null, now), "#/patients")).toBe(false);
    expect(mayOpen(grantsOf(["nurse"], "2026-12-03T10:30:00Z", now), "#/stats")).toBe(false); // nurses never open break-glass; stats stay by role
  });

  it("lands each person on their work, never straight into an emergency access", () => {
    expect(homeFor(["administrator"])).toBe("#/admin");
    expect(homeFor(["nurse"])).toBe("#/station");
    expect(homeFor(["security_officer"])).toBe("#/officer");
    expect(homeFor(["surgeon"])).toBe("#/patients"); // issue 10: a surgeon's home is the patient search
  });
});

describe("break-glass countdown", () => {
  it("counts down in minutes and seconds, hours when long, and ends", () => {
    const now = Date.parse("2025-01-01T10:00:00Z");
    expect(remaining("2025-01-01T10:15:05Z", now)).toBe("15 min 05 s");
    expect(remaining("2025-01-01T11:02:30Z", now)).toBe("1 h 02 min");
    expect(remaining("2025-01-01T10:00:00Z", now)).toBeNull();
    expect(remaining(null, now)).toBeNull();
    expect(remaining("garbage", now)).toBeNull();
  });
});

describe("refusals in words", () => {
  it("says why, with the server's stable codes", () => {
    expect(problem(new PeopleError("last_passkey", "x", 409))).toMatch(/only passkey|seule clé/);
    expect(problem(new PeopleError("last_administrator", "x", 409))).toMatch(/last administrator|dernier administrateur/);
    expect(problem(new PeopleError("break_glass_reason_required", "x", 422))).toMatch(/20/);
    expect(problem(new PeopleError("session_invalid", "x", 401))).toMatch(/sign in again|reconnectez/);
    expect(problem(new PeopleError("something_new", "x", 400))).toMatch(/nothing was changed|rien n'a été modifié/);
    expect(problem(Object.assign(new Error("no"), { name: "NotAllowedError" }))).toMatch(/cancelled|annulée/);
    expect(problem(Object.assign(new Error("dup"), { name: "InvalidStateError" }))).toMatch(/already holds|contient déjà/);
  });
});
