import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { exactly, problem, when } from "../people/format.ts";
import { downloadExport, type Entry, type ExportKind, type Verification } from "./api.ts";
import { activeFilters, NO_FILTERS, OUTCOME_CODES, periodProblem, type Filters } from "./filters.ts";
import type { Journal } from "./OfficerApp.tsx";
import { ACTION_FAMILIES, actionWords, actorWords, familyWords, outcomeTone, outcomeWords } from "./words.ts";

export function OutcomeBadge(props: { code: string }) {
  return <span class={`badge badge-${outcomeTone(props.code)}`} data-outcome={props.code}>{outcomeWords(props.code)}</span>;
}

/** Is the log whole? Against the latest signed checkpoint, recomputed by the server on each visit. */
function VerificationBanner(props: { check: Verification | null; error: unknown; onVerify: () => void }) {
  const { check } = props;
  let body;
  if (props.error !== null) body = <Message kind="error">{problem(props.error)}</Message>;
  else if (!check) body = <p class="muted">{t("officer.verifying")}</p>;
  else if (check.status === "verified" && check.checkpoint) {
    body = (
      <Message kind="ok">
        {t("officer.verified", { size: check.checkpoint.size, when: exactly(check.checkpoint.created_at) })}
      </Message>
    );
  } else if (check.status === "broken") {
    body = (
      <Message kind="error">
        {check.first_bad_seq !== null ? (
          <>{t("officer.broken")} <a href={`#/officer/entry/${check.first_bad_seq}`}>{t("officer.brokenAt", { seq: check.first_bad_seq })}</a></>
        ) : t("officer.brokenSignature")}
      </Message>
    );
  } else body = <Message kind="warn">{t("officer.noCheckpoint")}</Message>;
  return (
    <section class="card" data-testid="verification" data-status={check?.status ?? "unknown"}>
      {body}
      <div class="row-between">
        <span class="small muted">
          {check ? t("officer.checkedAt", { count: check.entries_checked, when: exactly(check.checked_at) }) : ""}
        </span>
        <button type="button" class="btn btn-small" onClick={props.onVerify}>{t("officer.verifyAgain")}</button>
      </div>
    </section>
  );
}

function FilterForm(props: { filters: Filters; onSearch: (f: Filters) => void }) {
  const [draft, setDraft] = useState<Filters>(props.filters);
  useEffect(() => setDraft(props.filters), [props.filters]);
  const period = periodProblem(draft);
  const set = (name: keyof Filters) => (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
  const text = (name: "person" | "patient" | "device", hint: string) => (
    <label class="field">
      <span>{t(`officer.filter.${name}`)}</span>
      <input class="input" name={name} value={draft[name]} placeholder={hint} autocomplete="off" spellcheck={false} onInput={set(name)} />
    </label>
  );
  const families: string[] = [...ACTION_FAMILIES];
  return (
    <form class="card" data-testid="filters" onSubmit={(e) => {
      e.preventDefault();
      if (!period) props.onSearch(draft);
    }}>
      <h2>{t("officer.filters")}</h2>
      <div class="filters">
        {text("patient", t("officer.filter.patientHint"))}
        {text("person", t("officer.filter.personHint"))}
        {text("device", t("officer.filter.deviceHint"))}
        <label class="field field-half">
          <span>{t("officer.filter.action")}</span>
          <select class="input" name="action" value={draft.action} onChange={set("action")}>
            <option value="">{t("officer.filter.anyAction")}</option>
            {draft.action && !families.includes(draft.action) ? <option value={draft.action}>{actionWords(draft.action)}</option> : null}
            {families.map((f) => <option value={f} key={f}>{familyWords(f)}</option>)}
          </select>
        </label>
        <label class="field field-half">
          <span>{t("officer.filter.outcome")}</span>
          <select class="input" name="outcome" value={draft.outcome} onChange={set("outcome")}>
            <option value="">{t("officer.filter.anyOutcome")}</option>
            {OUTCOME_CODES.map((c) => <option value={c} key={c}>{outcomeWords(c)}</option>)}
          </select>
        </label>
        <label class="field field-half">
          <span>{t("officer.filter.since")}</span>
          <input class="input" type="date" name="since" value={draft.since} onInput={set("since")} />
        </label>
        <label class="field field-half">
          <span>{t("officer.filter.until")}</span>
          <input class="input" type="date" name="until" value={draft.until} onInput={set("until")} />
        </label>
      </div>
      {period ? <Message kind="error">{t(`officer.period.${period}`)}</Message> : null}
      <div class="actions actions-even">
        <button type="submit" class="btn btn-primary" data-testid="search" disabled={!!period}>{t("officer.search")}</button>
        <button type="button" class="btn" disabled={activeFilters(draft) === 0 && activeFilters(props.filters) === 0}
          onClick={() => props.onSearch(NO_FILTERS)}>{t("officer.clear")}</button>
      </div>
    </form>
  );
}

function Exports(props: { filters: Filters }) {
  const [busy, setBusy] = useState<ExportKind | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (kind: ExportKind) => {
    setBusy(kind);
    setSaved(null);
    setError(null);
    try {
      setSaved(await downloadExport(kind, props.filters));
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(null);
    }
  };
  const n = activeFilters(props.filters);
  return (
    <section class="card">
      <h2>{t("officer.export")}</h2>
      <p class="small muted">{n ? t("officer.exportFiltered", { count: n }) : t("officer.exportAll")}</p>
      <div class="actions actions-even">
        <button type="button" class="btn" data-testid="export-csv" disabled={busy !== null} onClick={() => void run("csv")}>
          {busy === "csv" ? t("officer.exporting") : t("officer.exportCsv")}
        </button>
        <button type="button" class="btn" data-testid="export-ndjson" disabled={busy !== null} onClick={() => void run("ndjson")}>
          {busy === "ndjson" ? t("officer.exporting") : t("officer.exportNdjson")}
        </button>
      </div>
      {saved ? <Message kind="ok">{t("officer.exported", { name: saved })}</Message> : null}
      {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
    </section>
  );
}

function EntryRow(props: { entry: Entry }) {
  const e = props.entry;
  return (
    <li>
      <a class="entry-row" href={`#/officer/entry/${e.seq}`} data-testid="entry" data-seq={e.seq}>
        <span class="entry-when small"><span class="nowrap">{when(e.ts)}</span> <span class="muted nowrap">· #{e.seq}</span></span>
        <strong class="entry-action">{actionWords(e.action)}</strong>
        <span class="entry-who small">{actorWords(e.actor, e.actor_name)}</span>
        <span class="entry-patient small mono">{e.patient_id ?? ""}</span>
        <span class="entry-device small">{e.device_label ?? e.device_id ?? ""}</span>
        <span class="entry-outcome"><OutcomeBadge code={e.outcome} /></span>
      </a>
    </li>
  );
}

/** The audit journal, newest first: verification status, filters, exports, pages of entries. */
export function JournalScreen(props: Chrome & {
  filters: Filters; journal: Journal; check: Verification | null; checkError: unknown;
  onSearch: (f: Filters) => void; onMore: () => void; onVerify: () => void;
}) {
  const { journal } = props;
  return (
    <main class="screen screen-wide" data-screen="officer-journal">
      <Header title={t("officer.journal")} right={props.right} />
      {props.top}
      <VerificationBanner check={props.check} error={props.checkError} onVerify={props.onVerify} />
      <FilterForm filters={props.filters} onSearch={props.onSearch} />
      <Exports filters={props.filters} />
      <section class="card" aria-busy={journal.loading}>
        <h2>{t("officer.entries")}</h2>
        {journal.error !== null ? <Message kind="error">{problem(journal.error)}</Message> : null}
        {!journal.loading && journal.error === null && journal.entries.length === 0 ? <p data-testid="no-entries">{t("officer.noEntries")}</p> : null}
        {journal.entries.length ? (
          <>
            <div class="entry-head small muted" aria-hidden="true">
              <span>{t("officer.col.when")}</span><span>{t("officer.col.action")}</span><span>{t("officer.col.who")}</span>
              <span>{t("officer.col.patient")}</span><span>{t("officer.col.device")}</span><span>{t("officer.col.outcome")}</span>
            </div>
            <ul class="entries" data-testid="entries">
              {journal.entries.map((e) => <EntryRow entry={e} key={e.seq} />)}
            </ul>
          </>
        ) : null}
        <p class="small muted">{t("officer.shown", { count: journal.entries.length })}</p>
        {journal.loading ? <p class="muted">{t("officer.loading")}</p> : null}
        {journal.next !== null && !journal.loading ? (
          <button type="button" class="btn" data-testid="more" onClick={props.onMore}>{t("officer.more")}</button>
        ) : null}
      </section>
    </main>
  );
}
