// Activity figures (surgeons, administrators; no patient data): totals, and by month, surgeon and
// procedure as a table and a simple bar chart; the same figures as CSV.
import { useEffect, useState } from "preact/hooks";
import { lang, t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { stats, STATS_CSV } from "./api.ts";
import { barLengths, monthWords, numberWords, type StatRow, type Stats } from "./logic.ts";
import { clinProblem } from "./words.ts";

const BAR = 85; // longest bar, in percent of the chart width (the rest holds its figure)

function Dimension(props: { id: string; title: string; column: string; rows: StatRow[]; name: (r: StatRow) => string }) {
  const l = lang();
  const lengths = barLengths(props.rows.map((r) => r.photos), BAR);
  const rowH = 40;
  return (
    <section class="card" aria-labelledby={props.id} data-testid={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.rows.length ? (
        <>
          <svg class="bars" width="100%" height={props.rows.length * rowH} role="img" aria-labelledby={`${props.id}-chart`}>
            <title id={`${props.id}-chart`}>{t("clin.chartTitle", { what: props.title })}</title>
            {props.rows.map((r, i) => (
              <g key={r.key}>
                <text x={0} y={i * rowH + 13} class="bar-label">{props.name(r)}</text>
                <rect x={0} y={i * rowH + 17} width={`${Math.max(lengths[i]!, 0.5)}%`} height={18} rx={3} class="bar" />
                <text x={`${lengths[i]! + 1}%`} y={i * rowH + 31} class="bar-text">{numberWords(r.photos, l)}</text>
              </g>
            ))}
          </svg>
          <div class="table-wrap">
            <table class="table">
              <thead><tr><th scope="col">{props.column}</th><th scope="col">{t("clin.colPatients")}</th><th scope="col">{t("clin.colSequences")}</th><th scope="col">{t("clin.colPhotos")}</th></tr></thead>
              <tbody>
                {props.rows.map((r) => (
                  <tr key={r.key}><th scope="row">{props.name(r)}</th><td>{numberWords(r.patients, l)}</td><td>{numberWords(r.sequences, l)}</td><td>{numberWords(r.photos, l)}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : <p class="muted">{t("clin.noFigures")}</p>}
    </section>
  );
}

export function StatsScreen(props: Chrome) {
  const [data, setData] = useState<Stats | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => void stats().then(setData, setError), []);
  const l = lang();
  return (
    <main class="screen screen-wide" data-screen="clin-stats">
      <Header title={t("clin.statsTitle")} right={props.right} />
      {props.top}
      {error ? <Message kind="error">{clinProblem(error)}</Message> : null}
      {data ? (
        <>
          <section class="card" aria-labelledby="totals">
            <div class="row-between">
              <h2 id="totals">{t("clin.totals")}</h2>
              <a class="btn btn-small" href={STATS_CSV} download data-testid="stats-csv">{t("clin.csv")}</a>
            </div>
            <dl class="totals" data-testid="stats-totals">
              <div><dt>{t("clin.colPatients")}</dt><dd>{numberWords(data.totals.patients, l)}</dd></div>
              <div><dt>{t("clin.colSequences")}</dt><dd>{numberWords(data.totals.sequences, l)}</dd></div>
              <div><dt>{t("clin.colPhotos")}</dt><dd>{numberWords(data.totals.photos, l)}</dd></div>
              <div><dt>{t("clin.perPatient")}</dt><dd>{numberWords(data.totals.sequences_per_patient, l, 1)}</dd></div>
              <div><dt>{t("clin.perSequence")}</dt><dd>{numberWords(data.totals.photos_per_sequence, l, 1)}</dd></div>
            </dl>
          </section>
          <Dimension id="by-month" title={t("clin.byMonth")} column={t("clin.colMonth")} rows={data.by_month} name={(r) => monthWords(r.key, l)} />
          <Dimension id="by-surgeon" title={t("clin.bySurgeon")} column={t("clin.colSurgeon")} rows={data.by_surgeon} name={(r) => r.key} />
          <Dimension id="by-procedure" title={t("clin.byProcedure")} column={t("clin.colProcedure")} rows={data.by_procedure} name={(r) => r.label || r.key} />
        </>
      ) : !error ? <p class="muted" role="status">{t("clin.loading")}</p> : null}
    </main>
  );
}
