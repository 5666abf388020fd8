// One patient's sequences, newest first: what, where, when, consent, who, protocol completeness, the
// photos by view. From here: the viewer, the consent change, the export and the comparison.
import { useEffect, useRef, useState } from "preact/hooks";
import { label, lang, t } from "../../i18n/index.ts";
import { VIEWS } from "../sequence/schema.ts";
import { Header, LangSwitch, Message } from "../common.tsx";
import { PeopleError } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { changeConsent, downloadExport, thumbnailUrl, timeline } from "./api.ts";
import {
  codedWords, CONSENT_MIN_REASON, CONSENTS, countWords, dateWords, delayWords, exportPreview, patientHash, patientName, PURPOSES,
  reasonOk, viewsPresent, type Consent, type Patient, type Photo, type Purpose, type Sequence,
} from "./logic.ts";
import { Viewer } from "./Viewer.tsx";
import { clinProblem, coded } from "./words.ts";

export function viewName(p: Photo): string {
  return (lang() === "fr" ? p.view_label?.fr : p.view_label?.en) || p.view;
}

export function SequenceFacts(props: { s: Sequence }) {
  const { s } = props;
  const l = lang();
  const delay = s.delay ? delayWords(s.delay.value, l) : null;
  return (
    <dl class="facts">
      <div><dt>{t("clin.region")}</dt><dd>{codedWords(s.region, l)}</dd></div>
      <div><dt>{t("clin.laterality")}</dt><dd>{coded("lat", s.laterality)}</dd></div>
      <div><dt>{t("clin.phase")}</dt><dd>{coded("phase", s.phase)}{delay ? ` · ${delay}` : ""}</dd></div>
      <div><dt>{t("clin.consent")}</dt><dd><span class={`badge ${s.consent === "withdrawn" ? "badge-error" : s.consent === "record" ? "badge-warn" : "badge-ok"}`} data-testid="consent-level">{coded("consent", s.consent)}</span></dd></div>
      <div><dt>{t("clin.takenBy")}</dt><dd>{s.taken_by?.name || t("clin.notGiven")}</dd></div>
      <div><dt>{t("clin.protocol")}</dt><dd data-testid="protocol">{viewsPresent(s.protocol.present.length, s.protocol.expected.length, l)}
        {s.protocol.complete ? "" : ` · ${t("clin.missing", { views: s.protocol.expected.filter((v) => !s.protocol.present.includes(v)).map((v) => label(VIEWS.get(v)?.label, v)).join(", ") })}`}</dd></div>
    </dl>
  );
}

function ConsentDialog(props: { s: Sequence; onDone: (s: Sequence) => void; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [level, setLevel] = useState<Consent | null>(null);
  const [reason, setReason] = useState("");
  const [tried, setTried] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (!level || !reasonOk(reason)) return;
    setBusy(true);
    setError(null);
    try {
      props.onDone(await changeConsent(props.s.id, level, reason));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} class="sheet" aria-labelledby="consent-title" data-testid="consent-dialog" onCancel={(e) => { e.preventDefault(); props.onClose(); }}>
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <div class="row-between"><h2 id="consent-title">{t("clin.consentTitle")}</h2><LangSwitch /></div>
        <p>{t("clin.consentNow", { level: coded("consent", props.s.consent) })}</p>
        <fieldset class={`field ${tried && !level ? "has-error" : ""}`}>
          <legend>{t("clin.consentNew")}</legend>
          <div class="seg-options">
            {CONSENTS.filter((c) => c !== props.s.consent).map((c, i) => (
              <button key={c} type="button" autofocus={i === 0} class={`seg-btn ${level === c ? "on" : ""}`} aria-pressed={level === c} data-testid={`level-${c}`} onClick={() => setLevel(c)}>
                {coded("consent", c)}
              </button>
            ))}
          </div>
          {tried && !level ? <span class="field-error">{t("clin.chooseLevel")}</span> : null}
        </fieldset>
        <label class={`field ${tried && !reasonOk(reason) ? "has-error" : ""}`}>
          <span>{t("clin.reason")}</span>
          <textarea class="input textarea" data-testid="consent-reason" value={reason} aria-invalid={tried && !reasonOk(reason)}
            onInput={(e) => setReason(e.currentTarget.value)} />
          {tried && !reasonOk(reason) ? <span class="field-error" data-testid="reason-error">{t("clin.reasonShort", { min: CONSENT_MIN_REASON })}</span> : null}
        </label>
        {error ? <Message kind="error">{clinProblem(error)}</Message> : null}
        <div class="row-actions">
          <button type="button" class="btn btn-small" onClick={props.onClose}>{t("common.cancel")}</button>
          <button type="submit" class="btn btn-primary btn-small" data-testid="consent-save" disabled={busy}>{t("clin.consentSave")}</button>
        </div>
      </form>
    </dialog>
  );
}

function ExportPanel(props: { sequences: Sequence[]; chosen: Set<string>; onClear: () => void }) {
  const [purpose, setPurpose] = useState<Purpose | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const preview = purpose ? exportPreview(props.sequences, props.chosen, purpose) : null;
  const views = new Map(props.sequences.flatMap((s) => s.photos.map((p) => [p.id, `${viewName(p)} (${dateWords(s.taken_at, lang())})`] as const)));
  const serverRefused = error instanceof PeopleError && Array.isArray(error.details.photos) ? (error.details.photos as string[]) : [];
  const go = async () => {
    if (!purpose || !preview || preview.refused.length || !preview.ok.length) return;
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      setSaved(await downloadExport(purpose, preview.ok.map((p) => p.id)));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="export-title" data-testid="export">
      <h2 id="export-title">{t("clin.exportTitle")}</h2>
      <p>{props.chosen.size ? countWords(props.chosen.size, "photos", lang()) : t("clin.exportChoose")}</p>
      <fieldset class="field">
        <legend>{t("clin.purpose")}</legend>
        <div class="seg-options">
          {PURPOSES.map((p) => (
            <button key={p} type="button" class={`seg-btn ${purpose === p ? "on" : ""}`} aria-pressed={purpose === p} data-testid={`purpose-${p}`} onClick={() => { setPurpose(p); setError(null); setSaved(null); }}>
              {coded("purpose", p)}
            </button>
          ))}
        </div>
      </fieldset>
      {purpose && purpose !== "care" ? <Message kind="info">{t("clin.deidentified")}</Message> : null}
      {preview && preview.refused.length ? (
        <div role="alert" class="msg msg-warn" data-testid="export-refused">
          <p>{t("clin.refusedIntro", { n: preview.refused.length })}</p>
          <ul>{preview.refused.map((p) => <li key={p.id}>{views.get(p.id)}</li>)}</ul>
        </div>
      ) : null}
      <div class="row-actions">
        <button type="button" class="btn btn-small" onClick={props.onClear} disabled={!props.chosen.size}>{t("clin.clearChoice")}</button>
        <button type="button" class="btn btn-primary btn-small" data-testid="export-go" onClick={() => void go()}
          disabled={busy || !preview || !preview.ok.length || preview.refused.length > 0}>
          {busy ? t("clin.exporting") : t("clin.exportGo")}
        </button>
      </div>
      {saved ? <Message kind="ok">{t("clin.saved", { name: saved })}</Message> : null}
      {error ? (
        <Message kind="error">
          {clinProblem(error)}{serverRefused.length ? ` ${serverRefused.map((id) => views.get(id) ?? id).join(", ")}` : ""}
        </Message>
      ) : null}
    </section>
  );
}

export function TimelineScreen(props: Chrome & { patientId: string; canOriginal: boolean }) {
  const [data, setData] = useState<{ patient: Patient; sequences: Sequence[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [viewing, setViewing] = useState<{ photos: Photo[]; index: number } | null>(null);
  const [consentOf, setConsentOf] = useState<Sequence | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [changed, setChanged] = useState(false);
  useEffect(() => {
    setData(null);
    timeline(props.patientId).then(setData, setError);
  }, [props.patientId]);
  const l = lang();
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (!next.delete(id)) next.add(id);
    setChosen(next);
  };
  const title = data ? (data.patient.restricted && !data.patient.family ? data.patient.id : patientName(data.patient)) : t("clin.timelineTitle");
  return (
    <main class="screen screen-wide" data-screen="clin-timeline">
      <Header title={t("clin.timelineTitle")} right={props.right} />
      {props.top}
      {error ? <Message kind="error">{clinProblem(error)}</Message> : null}
      {!data && !error ? <p class="muted" role="status">{t("clin.loading")}</p> : null}
      {data ? (
        <>
          <div class="card" data-testid="patient-card">
            <div class="row-between">
              <h2 class="wrap">{title}</h2>
              <a href="#/patients" class="link">‹ {t("clin.otherPatient")}</a>
            </div>
            <p><strong>{t("clin.patientId")}</strong> <span class="input-code wrap" data-testid="patient-id">{data.patient.id}</span></p>
            <p class="muted">
              {data.patient.birth_date ? t("clin.born", { date: dateWords(data.patient.birth_date, l) }) + " · " : ""}
              {countWords(data.sequences.length, "sequences", l)} · {countWords(data.sequences.reduce((n, s) => n + s.photos.length, 0), "photos", l)}
            </p>
            {data.sequences.length >= 2 ? <a class="btn btn-small" href={patientHash(data.patient.id, "/compare")} data-testid="to-compare">{t("clin.compare")}</a> : null}
          </div>
          {changed ? <Message kind="ok">{t("clin.consentChanged")}</Message> : null}
          {data.sequences.length ? null : <p class="muted">{t("clin.noSequence")}</p>}
          <ol class="timeline" aria-label={t("clin.timelineTitle")}>
            {data.sequences.map((s) => {
              const usable = s.photos.filter((p) => p.state === "verified");
              return (
                <li key={s.id} class="card" data-testid="sequence" data-sequence={s.id}>
                  <div class="row-between">
                    <h2>{dateWords(s.taken_at, l, true)} · {codedWords(s.procedure, l)}</h2>
                    <button type="button" class="btn btn-small" data-testid="consent-change" onClick={() => { setChanged(false); setConsentOf(s); }}>{t("clin.consentChange")}</button>
                  </div>
                  <SequenceFacts s={s} />
                  {s.note ? <p class="wrap">{s.note}</p> : null}
                  {s.consent_history?.length ? (
                    <details data-testid="consent-history">
                      <summary>{t("clin.consentHistory")}</summary>
                      <ul class="list">
                        {s.consent_history.map((h, i) => (
                          <li key={i} class="small wrap">
                            {t("clin.consentHistoryRow", { date: dateWords(h.changed_at, l, true), from: coded("consent", h.previous), to: coded("consent", h.level), reason: h.reason })}
                          </li>
                        ))}
                      </ul>
                    </details>
                  ) : null}
                  <ul class="thumbs">
                    {s.photos.map((p) => (
                      <li key={p.id} class="clin-thumb">
                        {p.state === "verified" ? (
                          <button type="button" class="thumb-btn" data-testid="thumb" data-view={p.view}
                            aria-label={t("clin.openPhoto", { view: viewName(p) })}
                            onClick={() => setViewing({ photos: usable, index: usable.indexOf(p) })}>
                            <img src={thumbnailUrl(p.id)} alt="" loading="lazy" />
                          </button>
                        ) : (
                          <span class="thumb-off">{p.state === "quarantined" ? t("clin.quarantined") : t("clin.pending")}</span>
                        )}
                        <span class="small">{viewName(p)}</span>
                        {p.state === "verified" ? (
                          <label class="small pick">
                            <input type="checkbox" data-testid="pick" aria-label={t("clin.pickView", { view: viewName(p) })} checked={chosen.has(p.id)} onChange={() => toggle(p.id)} />
                            {t("clin.pick")}
                          </label>
                        ) : null}
                      </li>
                    ))}
                  </ul>
                </li>
              );
            })}
          </ol>
          {data.sequences.some((s) => s.photos.length) ? <ExportPanel sequences={data.sequences} chosen={chosen} onClear={() => setChosen(new Set())} /> : null}
        </>
      ) : null}
      {viewing ? (
        <Viewer photos={viewing.photos} index={viewing.index} canOriginal={props.canOriginal} onIndex={(index) => setViewing({ ...viewing, index })}
          onClose={() => setViewing(null)} title={(p) => `${viewName(p)} · ${dateWords(p.captured_at, lang(), true)}`} />
      ) : null}
      {consentOf && data ? (
        <ConsentDialog s={consentOf} onClose={() => setConsentOf(null)} onDone={(s) => {
          setData({ ...data, sequences: data.sequences.map((x) => (x.id === s.id ? s : x)) });
          setConsentOf(null);
          setChanged(true);
        }} />
      ) : null}
    </main>
  );
}
