// The security officer's screens (loaded on demand): the journal with its filters and exports,
// one entry with its proof, alerts, restricted patients. The journal's filters and loaded pages
// live here, so opening an entry and coming back keeps the officer's place.
import { useEffect, useState } from "preact/hooks";
import type { Person } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { AlertsScreen } from "./AlertsScreen.tsx";
import { listEntries, verification, type Entry, type Verification } from "./api.ts";
import { EntryScreen } from "./EntryScreen.tsx";
import { NO_FILTERS, type Filters } from "./filters.ts";
import { JournalScreen } from "./JournalScreen.tsx";
import { RestrictedScreen } from "./RestrictedScreen.tsx";
import type { Names } from "./words.ts";

/** Refusals are kept as they came and worded at render, so a language switch rewords them. */
export type Journal = { entries: Entry[]; next: number | null; loading: boolean; error: unknown };

export function OfficerApp(props: Chrome & { hash: string; person: Person }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [journal, setJournal] = useState<Journal>({ entries: [], next: null, loading: true, error: null });
  const [check, setCheck] = useState<Verification | null>(null);
  const [checkError, setCheckError] = useState<unknown>(null);

  const search = async (f: Filters, before: number | null = null) => {
    setJournal((j) => ({ ...j, loading: true, error: null, ...(before === null ? { entries: [], next: null } : {}) }));
    try {
      const page = await listEntries(f, before);
      setJournal((j) => ({ entries: before === null ? page.entries : [...j.entries, ...page.entries], next: page.next, loading: false, error: null }));
    } catch (err) {
      setJournal((j) => ({ ...j, loading: false, error: err ?? new Error("failed") }));
    }
  };
  const verify = async () => {
    setCheckError(null);
    try {
      setCheck(await verification());
    } catch (err) {
      setCheckError(err ?? new Error("failed"));
    }
  };
  useEffect(() => {
    void verify();
    void search(filters);
  }, []);

  const apply = (f: Filters) => {
    setFilters(f);
    void search(f);
    if (location.hash !== "#/officer") location.hash = "#/officer";
  };

  const seq = /^#\/officer\/entry\/(\d+)$/.exec(props.hash)?.[1];
  if (seq) return <EntryScreen {...props} seq={Number(seq)} onFilter={(f) => apply({ ...NO_FILTERS, ...f })} />;
  // alerts carry actor strings only: name those the journal already named, and the officer
  const names: Names = Object.fromEntries([
    ...journal.entries.filter((e) => e.actor_name).map((e) => [e.actor, e.actor_name!] as const),
    [`user:${props.person.id}`, props.person.name] as const,
  ]);
  if (props.hash === "#/officer/alerts") return <AlertsScreen {...props} names={names} onFilter={(f) => apply({ ...NO_FILTERS, ...f })} />;
  if (props.hash === "#/officer/restricted") return <RestrictedScreen {...props} onFilter={(f) => apply({ ...NO_FILTERS, ...f })} />;
  return (
    <JournalScreen {...props} filters={filters} journal={journal} check={check} checkError={checkError}
      onSearch={apply} onMore={() => journal.next !== null && void search(filters, journal.next)} onVerify={() => void verify()} />
  );
}
