// The audit API as the officer's screens use it (session cookie; CSRF token on changes, through
// people/api.ts). Every read and export is itself written to the audit trail by the server.
import { call, request } from "../people/api.ts";
import { entriesQuery, filterParams, type Filters, type Outcome } from "./filters.ts";

export type Entry = {
  seq: number; ts: string; actor: string; actor_name: string | null; role: string | null;
  device_id: string | null; device_label: string | null; action: string; outcome: Outcome;
  patient_id: string | null; object: string | null; address: string | null; detail: Record<string, unknown>;
  entry_hash: string; leaf_hash: string | null;
};
export type Inclusion = { size: number; proof: string[]; verified: boolean };
export type Verification = {
  status: "verified" | "broken" | "no_checkpoint";
  checkpoint: { size: number; root_hash: string; created_at: string } | null;
  entries_checked: number; first_bad_seq: number | null; checked_at: string;
};
export type AlertKind = "failed_signins" | "bulk_access" | "off_hours" | "revoked_device" | "restricted_patient" | "log_read";
export type Alert = {
  id: number; kind: AlertKind; severity: "low" | "medium" | "high"; raised_at: string; actor: string | null;
  device_id: string | null; patient_id: string | null; count: number; first_seq: number; last_seq: number;
  acknowledged_at: string | null; acknowledged_by: string | null;
};
export type RestrictedPatient = { patient_id: string; reason: string; since: string };
export type ExportKind = "csv" | "ndjson";

export const PAGE = 50;

export const listEntries = (f: Filters, before: number | null) =>
  call<{ entries: Entry[]; next: number | null }>("GET", `/api/v1/audit/entries?${entriesQuery(f, before, PAGE)}`);
export const getEntry = (seq: number) => call<{ entry: Entry; inclusion: Inclusion }>("GET", `/api/v1/audit/entries/${seq}`);
export const verification = () => call<Verification>("GET", "/api/v1/audit/verification");
export const listAlerts = (status: "open" | "all") => call<{ alerts: Alert[] }>("GET", `/api/v1/audit/alerts?status=${status}`);
export const acknowledge = (id: number) => call<{ alert: Alert }>("POST", `/api/v1/audit/alerts/${id}/acknowledge`);
export const restrictedPatients = () => call<{ patients: RestrictedPatient[] }>("GET", "/api/v1/audit/restricted-patients");
export const setRestricted = (patientId: string, reason: string, restricted: boolean) =>
  call<unknown>("PUT", "/api/v1/audit/restricted-patients", { patient_id: patientId, reason, restricted });

export function exportPath(kind: ExportKind, f: Filters): string {
  const q = filterParams(f).toString();
  return `/api/v1/audit/export.${kind}${q ? `?${q}` : ""}`;
}

/** The name to save an export under when the server gives none: clinphoto-audit-20250102T030405Z.csv */
export function fallbackName(kind: ExportKind, now: Date = new Date()): string {
  return `clinphoto-audit-${now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "")}.${kind}`;
}

/** The file name in a Content-Disposition header (RFC 6266, filename* preferred), made safe to save. */
export function filenameFrom(disposition: string | null, kind: ExportKind, now: Date = new Date()): string {
  let name: string | null = null;
  if (disposition) {
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(disposition);
    try {
      name = star?.[1] ? decodeURIComponent(star[1].trim()) : plain ? (plain[1] ?? plain[2] ?? "").replace(/\\(.)/g, "$1") : null;
    } catch {
      name = null;
    }
  }
  const safe = name?.replace(/[/\\\u0000-\u001f]/g, "_").replace(/^\.+/, "").trim();
  return safe ? safe : fallbackName(kind, now);
}

/** Fetch an export with the current filters (the cookie authenticates) and hand it to the browser as a file. */
/** Hand a response body to the browser as a file named ``name``; the one download path of the app. */
export async function saveDownload(res: Response, name: string): Promise<string> {
  const url = URL.createObjectURL(await res.blob());
  try {
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.rel = "noopener";
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 60_000); // the download reads the blob after click()
  }
  return name;
}

export async function downloadExport(kind: ExportKind, f: Filters): Promise<string> {
  const res = await request("GET", exportPath(kind, f));
  const name = filenameFrom(res.headers.get("Content-Disposition"), kind);
  return saveDownload(res, name);
}
