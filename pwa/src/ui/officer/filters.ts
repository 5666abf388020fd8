// The officer's journal filters and how they become the audit API's query string (pure: no fetch,
// no DOM). Periods are whole days in the officer's own time zone, sent as UTC instants: "since" is
// the first day's midnight (inclusive), "until" the midnight after the last day (exclusive).

export const OUTCOME_CODES = ["0", "4", "8", "12"] as const;
export type Outcome = (typeof OUTCOME_CODES)[number];

export type Filters = {
  person: string;
  patient: string;
  device: string;
  /** An exact action name, or a family ending in "." such as "photo.". */
  action: string;
  outcome: "" | Outcome;
  /** First day, YYYY-MM-DD (local), or "". */
  since: string;
  /** Last day, YYYY-MM-DD (local, included), or "". */
  until: string;
};

export const NO_FILTERS: Filters = { person: "", patient: "", device: "", action: "", outcome: "", since: "", until: "" };

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Midnight starting a local day, plus `addDays`, as an ISO 8601 UTC instant without milliseconds. */
export function localMidnight(day: string, addDays = 0): string | null {
  const m = DAY.exec(day);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays);
  if (Number.isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Why the period cannot be searched, or null when it can. */
export function periodProblem(f: Filters): "badDate" | "reversed" | null {
  if ((f.since && !localMidnight(f.since)) || (f.until && !localMidnight(f.until))) return "badDate";
  if (f.since && f.until && f.until < f.since) return "reversed";
  return null;
}

/** The filter parameters the audit API takes (entries and both exports): only those that are set. */
export function filterParams(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  for (const name of ["person", "patient", "device", "action"] as const) {
    const v = f[name].trim();
    if (v) q.set(name, v);
  }
  if (f.outcome) q.set("outcome", f.outcome);
  const since = f.since ? localMidnight(f.since) : null;
  const until = f.until ? localMidnight(f.until, 1) : null;
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  return q;
}

/** One page of the journal, newest first: `before` is the cursor the previous page answered. */
export function entriesQuery(f: Filters, before: number | null = null, limit = 50): string {
  const q = filterParams(f);
  q.set("order", "desc");
  if (before !== null) q.set("before", String(before));
  q.set("limit", String(limit));
  return q.toString();
}

export function activeFilters(f: Filters): number {
  return (Object.keys(f) as (keyof Filters)[]).filter((k) => f[k].trim() !== "").length;
}
