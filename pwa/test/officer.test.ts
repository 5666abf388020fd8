// The officer's screens' pure parts: filters to the audit API's query string, codes in words,
// export file names, alert wording and order.
import { describe, expect, it } from "vitest";
import { en, fr } from "../src/i18n/messages.ts";
import { exportPath, fallbackName, filenameFrom, type Alert } from "../src/ui/officer/api.ts";
import { activeFilters, entriesQuery, filterParams, localMidnight, NO_FILTERS, periodProblem } from "../src/ui/officer/filters.ts";
import { actionWords, actorWords, alertWords, outcomeTone, outcomeWords, sortAlerts } from "../src/ui/officer/words.ts";

process.env.TZ = "Europe/Paris";

const alert = (over: Partial<Alert>): Alert => ({
  id: 1, kind: "failed_signins", severity: "medium", raised_at: "2025-03-01T10:00:00Z", actor: null, device_id: null,
  patient_id: null, count: 12, first_seq: 40, last_seq: 52, acknowledged_at: null, acknowledged_by: null, ...over,
});

describe("journal filters", () => {
  it("sends only the filters that are set, trimmed", () => {
    expect(filterParams(NO_FILTERS).toString()).toBe("");
    const q = filterParams({ ...NO_FILTERS, patient: "  IPP-123 ", person: "user:abc", device: "", action: "photo.", outcome: "8" });
    expect([...q.entries()]).toEqual([["person", "user:abc"], ["patient", "IPP-123"], ["action", "photo."], ["outcome", "8"]]);
  });

  it("turns a period of local days into UTC instants: since inclusive, until the next midnight", () => {
    // Paris is UTC+1 in winter, UTC+2 in summer
    expect(localMidnight("2025-01-15")).toBe("2025-01-14T23:00:00Z");
    expect(localMidnight("2025-07-31", 1)).toBe("2025-07-31T22:00:00Z");
    const q = filterParams({ ...NO_FILTERS, since: "2025-03-29", until: "2025-03-30" }); // the clocks change on the 30th
    expect(q.get("since")).toBe("2025-03-28T23:00:00Z");
    expect(q.get("until")).toBe("2025-03-30T22:00:00Z");
    expect(localMidnight("15/01/2025")).toBeNull();
  });

  it("refuses a bad or reversed period before asking the server", () => {
    expect(periodProblem({ ...NO_FILTERS, since: "2025-02-01", until: "2025-01-31" })).toBe("reversed");
    expect(periodProblem({ ...NO_FILTERS, since: "2025-02-01", until: "2025-02-01" })).toBeNull();
    expect(periodProblem({ ...NO_FILTERS, until: "yesterday" })).toBe("badDate");
  });

  it("pages the journal newest first with the previous page's cursor", () => {
    const first = new URLSearchParams(entriesQuery({ ...NO_FILTERS, patient: "IPP-1" }));
    expect(Object.fromEntries(first)).toEqual({ patient: "IPP-1", order: "desc", limit: "50" });
    const next = new URLSearchParams(entriesQuery(NO_FILTERS, 1234, 20));
    expect(Object.fromEntries(next)).toEqual({ order: "desc", before: "1234", limit: "20" });
  });

  it("counts the filters in use", () => {
    expect(activeFilters(NO_FILTERS)).toBe(0);
    expect(activeFilters({ ...NO_FILTERS, patient: "IPP-1", outcome: "0", person: "  " })).toBe(2);
  });
});

describe("words for codes", () => {
  it("says every outcome in words, in French and English", () => {
    expect(["0", "4", "8", "12"].map((c) => outcomeWords(c, "fr"))).toEqual(["succès", "échec mineur", "échec grave", "échec majeur"]);
    expect(["0", "4", "8", "12"].map((c) => outcomeWords(c, "en"))).toEqual(["success", "minor failure", "serious failure", "major failure"]);
    expect(outcomeWords("7", "en")).toBe("7");
    expect(["0", "4", "8", "12"].map(outcomeTone)).toEqual(["ok", "warn", "error", "error"]);
  });

  it("names known actions, falls back to the family for new ones and keeps unknown codes visible", () => {
    expect(actionWords("photo.read", "fr")).toBe("Photo consultée");
    expect(actionWords("break_glass.open", "en")).toBe("Emergency access opened");
    expect(actionWords("photo.rotate", "en")).toBe("Photos (photo.rotate)");
    expect(actionWords("http.delete", "fr")).toBe("Demande refusée (DELETE)");
    expect(actionWords("weird", "en")).toBe("weird");
  });

  it("says who acted: the name when known, a short id otherwise", () => {
    expect(actorWords("user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", "Dr House", "en")).toBe("Dr House");
    expect(actorWords("user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", null, "fr")).toBe("personne 0f1e2d3c");
    expect(actorWords("anonymous", null, "en")).toBe("not signed in");
    expect(actorWords("system:decoder", null, "en")).toBe("ClinPhoto server (decoder)");
    expect(actorWords("martian:x", null, "en")).toBe("martian:x");
  });
});

describe("alerts", () => {
  it("words every kind in both languages with who and how many", () => {
    const kinds: Alert["kind"][] = ["failed_signins", "bulk_access", "off_hours", "revoked_device", "restricted_patient", "log_read"];
    for (const kind of kinds) {
      for (const l of ["en", "fr"] as const) {
        const w = alertWords(alert({ kind, count: 7, actor: "user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", device_id: "9a8b7c6d-1111-4222-8333-444455556666", patient_id: "IPP-42" }), l);
        expect(w.title).not.toBe(kind);
        expect(w.detail).toContain("7");
        expect(w.detail).not.toMatch(/\{\w+\}/);
      }
    }
    expect(alertWords(alert({ kind: "restricted_patient", count: 2, actor: "user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", patient_id: "IPP-42" }), "fr"))
      .toEqual({ title: "Accès à un patient protégé", detail: "Personne 0f1e2d3c a accédé au patient IPP-42 (2 fois)." });
    expect(alertWords(alert({ kind: "revoked_device", count: 3, device_id: "9a8b7c6d-1111-4222-8333-444455556666" }), "en").detail)
      .toBe("Device 9a8b7c6d tried to connect 3 time(s) after it was revoked.");
  });

  it("names the people the screens already know", () => {
    const a = alert({ kind: "log_read", count: 6, actor: "user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc" });
    expect(alertWords(a, "en", { "user:0f1e2d3c-aaaa-4bbb-8ccc-123456789abc": "Claire Martin" }).detail)
      .toBe("Claire Martin read or exported the audit journal (6 time(s)).");
  });

  it("keeps an unknown kind readable", () => {
    expect(alertWords(alert({ kind: "moon_phase" as Alert["kind"], count: 3 }), "en")).toEqual({ title: "moon_phase", detail: "3 event(s)." });
  });

  it("lists open alerts first, the most severe first, then the newest", () => {
    const list = [
      alert({ id: 1, severity: "high", acknowledged_at: "2025-03-02T00:00:00Z" }),
      alert({ id: 2, severity: "low", raised_at: "2025-03-05T00:00:00Z" }),
      alert({ id: 3, severity: "high", raised_at: "2025-03-01T00:00:00Z" }),
      alert({ id: 4, severity: "low", raised_at: "2025-03-06T00:00:00Z" }),
      alert({ id: 5, severity: "medium" }),
    ];
    expect(sortAlerts(list).map((a) => a.id)).toEqual([3, 5, 4, 2, 1]);
  });
});

describe("exports", () => {
  it("carries the journal's filters in the export address", () => {
    expect(exportPath("csv", NO_FILTERS)).toBe("/api/v1/audit/export.csv");
    expect(exportPath("ndjson", { ...NO_FILTERS, patient: "IPP 7", outcome: "4" })).toBe("/api/v1/audit/export.ndjson?patient=IPP+7&outcome=4");
  });

  it("saves under the server's file name, made safe, or a dated name of the right kind", () => {
    const now = new Date("2025-01-02T03:04:05.678Z");
    expect(filenameFrom('attachment; filename="clinphoto-audit-20250102T030405Z.csv"', "csv", now)).toBe("clinphoto-audit-20250102T030405Z.csv");
    expect(filenameFrom("attachment; filename=audit.ndjson", "ndjson", now)).toBe("audit.ndjson");
    expect(filenameFrom("attachment; filename*=UTF-8''journal%20d%27audit.csv; filename=\"x.csv\"", "csv", now)).toBe("journal d'audit.csv");
    expect(filenameFrom('attachment; filename="../../etc/passwd"', "csv", now)).toBe("_.._etc_passwd");
    expect(filenameFrom(null, "csv", now)).toBe("clinphoto-audit-20250102T030405Z.csv");
    expect(filenameFrom("attachment", "ndjson", now)).toBe("clinphoto-audit-20250102T030405Z.ndjson");
    expect(fallbackName("ndjson", now)).toBe("clinphoto-audit-20250102T030405Z.ndjson");
  });
});

describe("officer and account strings", () => {
  it("has every new string in English and French, with the same parameters", () => {
    const keys = Object.keys(en).filter((k) => /^(officer|restricted|outcome|severity|family|action|actor|alert|account|breakGlass)\./.test(k));
    expect(keys.length).toBeGreaterThan(150);
    for (const k of keys) {
      const e = (en as Record<string, string>)[k] ?? "";
      const f = (fr as Record<string, string>)[k] ?? "";
      expect(f, k).toBeTruthy();
      expect((f.match(/\{\w+\}/g) ?? []).sort(), k).toEqual((e.match(/\{\w+\}/g) ?? []).sort());
    }
  });
});
