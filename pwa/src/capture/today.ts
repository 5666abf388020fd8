// Today's patients (issue 11, point 5): the patients of the phone's department today, fetched while online
// (GET /api/v1/devices/me/today) and kept encrypted under the local (unlock) key, so that identifying a
// patient shows their name and birth date to confirm, offline too. Kept one day; gone with the unlock key.
import { decryptJson, encryptJson, type Wrapped } from "../crypto/localkey.ts";
import type { Store } from "../storage/db.ts";
import { callJson } from "../sync/transport.ts";

export const TODAY_KEEP_MS = 86_400_000;
const AAD = "today";

export interface TodayPatient {
  id: string;
  family: string | null;
  given: string | null;
  birthDate: string | null;
  sex: string | null;
}

export interface TodayList {
  department: string | null;
  date: string;
  fetchedAt: string;
  patients: TodayPatient[];
}

/** What the kv store holds under "today": when it was fetched (clear, to purge it) and the sealed list. */
export interface TodayRecord {
  fetchedAt: string;
  list: Wrapped;
}

interface TodayAnswer {
  department: string | null;
  date: string;
  patients: { id: string; family: string | null; given: string | null; birth_date: string | null; sex: string | null }[];
}

/** Fetch the list of the department of ``personId`` (the person unlocked now; else the phone's department)
 * and keep it sealed, replacing the previous one; the number of patients. */
export async function fetchToday(store: Store, base: string, key: CryptoKey, signal?: AbortSignal, now = new Date(), personId?: string): Promise<number> {
  const device = await store.device();
  if (!device) return 0;
  const query = personId ? `?person_id=${encodeURIComponent(personId)}` : "";
  const answer = await callJson<TodayAnswer>(base, device.credential, "GET", `/api/v1/devices/me/today${query}`, undefined, signal);
  const list: TodayList = {
    department: answer.body.department, date: answer.body.date, fetchedAt: now.toISOString(),
    patients: answer.body.patients.map((p) => ({ id: p.id, family: p.family, given: p.given, birthDate: p.birth_date, sex: p.sex })),
  };
  const saved = await store.put("today", { fetchedAt: list.fetchedAt, list: await encryptJson(key, list, AAD) } satisfies TodayRecord);
  if (!saved.ok) throw new Error(saved.error.message);
  return list.patients.length;
}

/** The kept list, or null: none fetched, older than a day, or sealed under another unlock key. */
export async function todayList(store: Store, key: CryptoKey, now = new Date()): Promise<TodayList | null> {
  const record = await store.today();
  if (!record || now.getTime() - Date.parse(record.fetchedAt) > TODAY_KEEP_MS) return null;
  try {
    return await decryptJson<TodayList>(key, record.list, AAD);
  } catch {
    return null;
  }
}

/** The patient of the list with this identifier (exact), or null. */
export function findToday(list: TodayList | null, id: string): TodayPatient | null {
  return list?.patients.find((p) => p.id === id) ?? null;
}
