// The clinicians' workspace server API (docs/clinical-api.md) as the screens use it: session cookie,
// CSRF token on changes (through people/api.ts). The server audits every read.
import { call, request } from "../people/api.ts";
import { filenameFrom, saveDownload } from "../officer/api.ts";
import type { Consent, Patient, Purpose, Sequence, Stats } from "./logic.ts";

export const searchPatients = (query: string) => call<{ patients: Patient[] }>("GET", `/api/v1/patients?${query}`);
export const recentPatients = () => call<{ patients: Patient[] }>("GET", "/api/v1/patients/recent");
export const timeline = (patientId: string) =>
  call<{ patient: Patient; sequences: Sequence[] }>("GET", `/api/v1/patients/${encodeURIComponent(patientId)}/sequences`);
export const changeConsent = (sequenceId: string, level: Consent, reason: string) =>
  call<Sequence>("POST", `/api/v1/sequences/${sequenceId}/consent`, { level, reason: reason.trim() });
export const stats = () => call<Stats>("GET", "/api/v1/stats");

export const thumbnailUrl = (photoId: string) => `/api/v1/photos/${photoId}/thumbnail`;
export const previewUrl = (photoId: string) => `/api/v1/photos/${photoId}/preview`;
export const originalUrl = (photoId: string) => `/api/v1/photos/${photoId}/original`;
export const STATS_CSV = "/api/v1/stats.csv";

/** Hand a response body to the browser as a file; returns the name it was saved under. */
async function save(res: Response, fallback: string): Promise<string> {
  const disposition = res.headers.get("Content-Disposition");
  const name = disposition ? filenameFrom(disposition, "csv") : fallback;
  return saveDownload(res, name);
}

/** The ZIP of the chosen photos for a purpose; a consent refusal throws a PeopleError whose details name the photos. */
export async function downloadExport(purpose: Purpose, photoIds: readonly string[]): Promise<string> {
  const res = await request("POST", "/api/v1/exports", { purpose, photo_ids: photoIds });
  return save(res, `clinphoto-export-${new Date().toISOString().slice(0, 10)}.zip`);
}

export async function downloadOriginal(photoId: string): Promise<string> {
  const res = await request("GET", originalUrl(photoId));
  return save(res, "clinphoto-original.jpg");
}
