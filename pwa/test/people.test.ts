import { describe, expect, it } from "vitest";
import { isPeopleHash } from "../src/ui/people/PeopleApp.tsx";
import { en, fr } from "../src/i18n/messages.ts";

describe("people's console routing", () => {
  it("opens only for its own fragments; everything else stays the capture app", () => {
    for (const hash of ["#/signin", "#/admin", "#/station", "#/register/AbC_-123"]) expect(isPeopleHash(hash)).toBe(true);
    for (const hash of ["", "#", "#/", "#/register/", "#/register/a b", "#/admin/x", "#/enrol/ABCD-EFGH-JKMN"]) expect(isPeopleHash(hash)).toBe(false);
  });

  it("has every people string in English and French", () => {
    const keys = Object.keys(en).filter((k) => /^(people|admin|station|role)\./.test(k));
    expect(keys.length).toBeGreaterThan(30);
    for (const k of keys) expect((fr as Record<string, string>)[k]).toBeTruthy();
  });
});
