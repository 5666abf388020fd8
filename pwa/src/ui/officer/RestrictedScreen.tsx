import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { problem, when } from "../people/format.ts";
import { restrictedPatients, setRestricted, type RestrictedPatient } from "./api.ts";
import type { Filters } from "./filters.ts";

function Lift(props: { patient: RestrictedPatient; onDone: () => Promise<void>; onError: (err: unknown) => void }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return <button type="button" class="btn btn-small" data-testid="lift" onClick={() => setAsking(true)}>{t("restricted.lift")}</button>;
  }
  return (
    <form class="lift" onSubmit={async (e) => {
      e.preventDefault();
      if (!reason.trim()) return;
      setBusy(true);
      try {
        await setRestricted(props.patient.patient_id, reason.trim(), false);
        await props.onDone();
      } catch (err) {
        props.onError(err ?? new Error("failed"));
      } finally {
        setBusy(false);
      }
    }}>
      <input class="input" name="lift-reason" required maxLength={500} placeholder={t("restricted.liftReason")} aria-label={t("restricted.liftReason")}
        value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <div class="actions actions-even">
        <button type="submit" class="btn btn-small" disabled={busy || !reason.trim()}>{t("restricted.liftConfirm")}</button>
        <button type="button" class="btn btn-small" onClick={() => setAsking(false)}>{t("common.cancel")}</button>
      </div>
    </form>
  );
}

/** Patients the officer watches (VIP, staff, legal hold): any access to them raises an alert. */
export function RestrictedScreen(props: Chrome & { onFilter: (f: Partial<Filters>) => void }) {
  const [patients, setPatients] = useState<RestrictedPatient[] | null>(null);
  const [patientId, setPatientId] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    try {
      setPatients((await restrictedPatients()).patients);
      setError(null);
    } catch (err) {
      setError(err ?? new Error("failed"));
    }
  };
  useEffect(() => void load(), []);

  async function add(e: Event) {
    e.preventDefault();
    if (!patientId.trim() || !reason.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await setRestricted(patientId.trim(), reason.trim(), true);
      setPatientId("");
      setReason("");
      await load();
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen screen-wide" data-screen="officer-restricted">
      <Header title={t("officer.restricted")} right={props.right} />
      {props.top}
      <form class="card" onSubmit={add}>
        <h2>{t("restricted.add")}</h2>
        <p class="small muted">{t("restricted.intro")}</p>
        <div class="filters">
          <label class="field">
            <span>{t("restricted.patient")}</span>
            <input class="input mono" name="restricted-patient" required pattern="[A-Za-z0-9-]{3,32}" title={t("patient.invalid")}
              maxLength={32} autocomplete="off" spellcheck={false}
              value={patientId} onInput={(e) => setPatientId((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field field-wide">
            <span>{t("restricted.reason")}</span>
            <input class="input" name="restricted-reason" required maxLength={500} placeholder={t("restricted.reasonHint")}
              value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <button type="submit" class="btn btn-primary" data-testid="restrict" disabled={busy || !patientId.trim() || !reason.trim()}>
          {t("restricted.submit")}
        </button>
      </form>
      {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
      <section class="card">
        <h2>{t("restricted.list")}</h2>
        {patients && patients.length === 0 ? <p class="muted">{t("restricted.none")}</p> : null}
        <ul class="list">
          {(patients ?? []).map((p) => (
            <li class="list-row list-row-wrap" key={p.patient_id} data-testid="restricted-patient">
              <div class="grow">
                <strong class="mono wrap">{p.patient_id}</strong>
                <div class="small wrap">{p.reason}</div>
                <div class="small muted">{t("restricted.since", { when: when(p.since) })} · <a href="#/officer" onClick={(e) => { e.preventDefault(); props.onFilter({ patient: p.patient_id }); }}>{t("restricted.journal")}</a></div>
              </div>
              <Lift patient={p} onDone={load} onError={setError} />
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
