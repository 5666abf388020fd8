import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { exactly, problem } from "../people/format.ts";
import { acknowledge, listAlerts, type Alert } from "./api.ts";
import type { Filters } from "./filters.ts";
import { actorWords, alertWords, severityWords, sortAlerts, type Names } from "./words.ts";

function AlertCard(props: { alert: Alert; names: Names; busy: boolean; onAcknowledge: () => void; onFilter: (f: Partial<Filters>) => void }) {
  const a = props.alert;
  const words = alertWords(a, undefined, props.names);
  const open = a.acknowledged_at === null;
  const filter: Partial<Filters> = {
    ...(a.actor && a.kind !== "failed_signins" ? { person: a.actor } : {}),
    ...(a.patient_id ? { patient: a.patient_id } : {}),
    ...(a.device_id ? { device: a.device_id } : {}),
  };
  return (
    <li class={open ? `card alert alert-${a.severity}` : "card alert alert-done"} data-testid="alert" data-kind={a.kind} data-open={String(open)}>
      <div class="row-between">
        <span class={`badge badge-sev-${a.severity}`}>{severityWords(a.severity)}</span>
        <span class="small muted">{exactly(a.raised_at)}</span>
      </div>
      <h2>{words.title}</h2>
      <p>{words.detail}</p>
      <p class="small muted">
        {t("officer.alertEntries", { first: a.first_seq, last: a.last_seq })}
        {" · "}<a href={`#/officer/entry/${a.first_seq}`}>{t("officer.alertFirst")}</a>
        {Object.keys(filter).length ? <>{" · "}<a href="#/officer" onClick={(e) => { e.preventDefault(); props.onFilter(filter); }}>{t("officer.alertJournal")}</a></> : null}
      </p>
      {open ? (
        <button type="button" class="btn btn-primary" data-testid="acknowledge" disabled={props.busy} onClick={props.onAcknowledge}>
          {t("officer.acknowledge")}
        </button>
      ) : (
        <p class="small ok" data-testid="acknowledged">
          {t("officer.acknowledgedBy", { who: actorWords(a.acknowledged_by, a.acknowledged_by ? props.names[a.acknowledged_by] : null), when: exactly(a.acknowledged_at!) })}
        </p>
      )}
    </li>
  );
}

/** Alerts raised from the trail (failed sign-ins, bulk access, off hours, revoked device, restricted patient, log read). */
export function AlertsScreen(props: Chrome & { names: Names; onFilter: (f: Partial<Filters>) => void }) {
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<number | null>(null);

  const load = async () => {
    try {
      setAlerts(sortAlerts((await listAlerts("all")).alerts));
      setError(null);
    } catch (err) {
      setError(err ?? new Error("failed"));
    }
  };
  useEffect(() => void load(), []);

  const ack = async (id: number) => {
    setBusy(id);
    setError(null);
    try {
      const { alert } = await acknowledge(id);
      setAlerts((list) => sortAlerts((list ?? []).map((a) => (a.id === id ? alert : a))));
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(null);
    }
  };

  const open = alerts?.filter((a) => a.acknowledged_at === null).length ?? 0;
  return (
    <main class="screen screen-wide" data-screen="officer-alerts">
      <Header title={t("officer.alerts")} right={props.right} />
      {props.top}
      {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
      {alerts ? (
        <div class="row-between">
          <p class={open ? "lead" : "lead ok"} data-testid="open-alerts">{open ? t("officer.alertsOpen", { count: open }) : t("officer.alertsNone")}</p>
          <button type="button" class="btn btn-small" onClick={() => void load()}>{t("officer.refresh")}</button>
        </div>
      ) : error !== null ? null : <p class="muted">{t("officer.loading")}</p>}
      <ul class="alerts">
        {(alerts ?? []).map((a) => (
          <AlertCard key={a.id} alert={a} names={props.names} busy={busy === a.id} onAcknowledge={() => void ack(a.id)} onFilter={props.onFilter} />
        ))}
      </ul>
    </main>
  );
}
