import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { BREAK_GLASS_ROLES, CAPTURE_ROLES, ROLES } from "../src/roles.ts";
import { en, fr } from "../src/i18n/messages.ts";

// The server's role names, as sync_server/auth/permissions.py spells them.
function serverRoles(): string[] {
  const source = readFileSync(new URL("../../sync_server/auth/permissions.py", import.meta.url), "utf8");
  const names = source.match(/^SURGEON, NURSE, OFFICER, ADMIN = (.+)$/m);
  const order = source.match(/^ROLES = \((.+)\)/m);
  if (!names || !order) throw new Error("role constants not found in permissions.py");
  const values = [...names[1]!.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!);
  const byName = new Map(["SURGEON", "NURSE", "OFFICER", "ADMIN"].map((n, i) => [n, values[i]] as const));
  return order[1]!.split(",").map((n) => byName.get(n.trim()) ?? `unknown ${n.trim()}`);
}

describe("roles", () => {
  it("are the server's roles, in the server's order", () => {
    expect([...ROLES]).toEqual(serverRoles());
  });
  it("each has a name in both languages", () => {
    for (const role of ROLES) {
      expect(en[`role.${role}`]).toBeTruthy();
      expect(fr[`role.${role}`]).toBeTruthy();
    }
  });
  it("that may capture on a phone are the server's CAPTURE_ROLES", () => {
    const source = readFileSync(new URL("../../sync_server/auth/permissions.py", import.meta.url), "utf8");
    const line = source.match(/^CAPTURE_ROLES = \(([A-Z_, ]+)\)/m);
    if (!line) throw new Error("CAPTURE_ROLES not found in permissions.py");
    const byName: Record<string, string> = { SURGEON: "surgeon", NURSE: "nurse", OFFICER: "security_officer", ADMIN: "administrator" };
    expect([...CAPTURE_ROLES]).toEqual(line[1]!.split(",").map((n) => n.trim()).filter(Boolean).map((n) => byName[n] ?? n));
  });
  it("let everyone but nurses break the glass", () => {
    expect([...BREAK_GLASS_ROLES]).toEqual(["surgeon", "security_officer", "administrator"]);
  });
});
