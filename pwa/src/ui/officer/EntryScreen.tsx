import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { exactly, problem } from "../people/format.ts";
import { getEntry, type Entry, type Inclusion } from "./api.ts";
import type { Filters } from "./filters.ts";
import { OutcomeBadge } from "./JournalScreen.tsx";
import { actionWords, actorWords, roleWords } from "./words.ts";

function Field(props: { label: string; children: ComponentChildren; mono?: boolean; name?: string }) {
  return (
    <>
      <dt>{props.label}</dt>
      {props.children === null || props.children === undefined || props.children === ""
        ? <dd class="muted" data-field={props.name}>—</dd>
        : <dd class={props.mono ? "mono wrap" : "wrap"} data-field={props.name}>{props.children}</dd>}
    </>
  );
}

/** A detail value as text: strings as they are, lists joined, anything else as compact JSON. */
function detailValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.map(String).join(", ");
  return JSON.stringify(v);
}

/** One entry, every field, its hashes, and whether its inclusion proof checks out against the latest checkpoint. */
export function EntryScreen(props: Chrome & { seq: number; onFilter: (f: Partial<Filters>) => void }) {
  const [data, setData] = useState<{ entry: Entry; inclusion: Inclusion } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    setData(null);
    setError(null);
    getEntry(props.seq).then((d) => live && setData(d), (err) => live && setError(err ?? new Error("failed")));
    return () => { live = false; };
  }, [props.seq]);

  const e = data?.entry;
  const proof = data?.inclusion;
  return (
    <main class="screen screen-wide" data-screen="officer-entry">
      <Header title={t("officer.entryTitle", { seq: props.seq })} right={props.right} onBack={() => { location.hash = "#/officer"; }} />
      {props.top}
      {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
      {!e && error === null ? <p class="muted">{t("officer.loading")}</p> : null}
      {e && proof ? (
        <>
          <section class="card">
            <h2>{actionWords(e.action)}</h2>
            <dl class="fields">
              <Field label={t("officer.field.when")} name="ts">{exactly(e.ts)} <span class="muted small mono">({e.ts})</span></Field>
              <Field label={t("officer.field.outcome")} name="outcome"><OutcomeBadge code={e.outcome} /> <span class="muted small">({t("officer.field.code", { code: e.outcome })})</span></Field>
              <Field label={t("officer.field.action")} name="action" mono>{e.action}</Field>
              <Field label={t("officer.field.who")} name="actor">{actorWords(e.actor, e.actor_name)} <span class="muted small mono">({e.actor})</span></Field>
              <Field label={t("officer.field.role")} name="role">{roleWords(e.role)}</Field>
              <Field label={t("officer.field.patient")} name="patient_id" mono>{e.patient_id}</Field>
              <Field label={t("officer.field.device")} name="device">{e.device_id ? <>{e.device_label ?? ""} <span class="mono small">{e.device_id}</span></> : null}</Field>
              <Field label={t("officer.field.object")} name="object" mono>{e.object}</Field>
              <Field label={t("officer.field.address")} name="address" mono>{e.address}</Field>
            </dl>
            <div class="chips">
              {e.patient_id ? <button type="button" class="btn btn-small" data-testid="filter-patient" onClick={() => props.onFilter({ patient: e.patient_id! })}>{t("officer.samePatient")}</button> : null}
              <button type="button" class="btn btn-small" onClick={() => props.onFilter({ person: e.actor })}>{t("officer.samePerson")}</button>
              {e.device_id ? <button type="button" class="btn btn-small" onClick={() => props.onFilter({ device: e.device_id! })}>{t("officer.sameDevice")}</button> : null}
            </div>
          </section>
          <section class="card">
            <h2>{t("officer.details")}</h2>
            {Object.keys(e.detail).length ? (
              <dl class="fields" data-testid="detail">
                {Object.entries(e.detail).map(([k, v]) => (
                  <Field key={k} label={k} mono={typeof v !== "string"}>{detailValue(v)}</Field>
                ))}
              </dl>
            ) : <p class="muted">{t("officer.noDetails")}</p>}
          </section>
          <section class={proof.verified ? "card" : "card card-alert"} data-testid="proof" data-verified={String(proof.verified)}>
            <h2>{t("officer.integrity")}</h2>
            {proof.verified ? (
              <Message kind="ok">{t("officer.proofYes", { size: proof.size })}</Message>
            ) : proof.size < props.seq ? (
              <Message kind="warn">{t("officer.proofLater", { size: proof.size })}</Message>
            ) : (
              <Message kind="error">{t("officer.proofNo", { size: proof.size })}</Message>
            )}
            <dl class="fields">
              <Field label={t("officer.field.entryHash")} name="entry_hash" mono>{e.entry_hash}</Field>
              <Field label={t("officer.field.leafHash")} name="leaf_hash" mono>{e.leaf_hash}</Field>
              <Field label={t("officer.field.treeSize")}>{proof.size}</Field>
            </dl>
            <details>
              <summary>{t("officer.proofHashes", { count: proof.proof.length })}</summary>
              <ol class="mono small proof-list">{proof.proof.map((h, i) => <li key={i} class="wrap">{h}</li>)}</ol>
            </details>
          </section>
        </>
      ) : null}
    </main>
  );
}
