// Find a patient: hospital identifier, wristband scan, or name + birth date; and the recent ones.
import { useEffect, useRef, useState } from "preact/hooks";
import { cameraAvailable, cleanScannedId, scan, WRISTBAND_FORMATS } from "../../capture/scan.ts";
import { lang, t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { recentPatients, searchPatients } from "./api.ts";
import { countWords, dateWords, patientHash, patientName, searchQuery, type Patient } from "./logic.ts";
import { clinProblem } from "./words.ts";

export function PatientList(props: { patients: Patient[]; testid: string }) {
  const l = lang();
  return (
    <ul class="list" data-testid={props.testid}>
      {props.patients.map((p) => (
        <li key={p.id}>
          <a class="patient-row" href={patientHash(p.id)} data-testid="patient-row" data-patient={p.id}>
            <span class="grow">
              <strong class="wrap">{p.restricted ? p.id : patientName(p)}</strong>
              <span class="muted small wrap"> {p.id}{p.birth_date ? ` · ${t("clin.born", { date: dateWords(p.birth_date, l) })}` : ""}</span>
            </span>
            {p.restricted ? (
              <span class="badge badge-error">{t("clin.restricted")}</span>
            ) : (
              <span class="muted small">
                {countWords(p.sequences, "sequences", l)} · {countWords(p.photos, "photos", l)}
                {p.last_taken_at ? ` · ${dateWords(p.last_taken_at, l)}` : ""}
              </span>
            )}
          </a>
        </li>
      ))}
    </ul>
  );
}

export function SearchScreen(props: Chrome) {
  const [text, setText] = useState("");
  const [birth, setBirth] = useState("");
  const [found, setFound] = useState<Patient[] | null>(null);
  const [recent, setRecent] = useState<Patient[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    recentPatients().then((r) => setRecent(r.patients), setError);
  }, []);

  const find = async (q: string, b: string) => {
    const query = searchQuery(q, b);
    if (!query) return;
    setBusy(true);
    setError(null);
    try {
      const r = await searchPatients(query);
      // one exact identifier: straight to the patient
      if (r.patients.length === 1 && r.patients[0]!.id === q.trim()) location.hash = patientHash(r.patients[0]!.id);
      else setFound(r.patients);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (!scanning || !video.current) return;
    const stop = new AbortController();
    scan({ video: video.current, formats: WRISTBAND_FORMATS, signal: stop.signal, accept: (s) => cleanScannedId(s) || null })
      .then((value) => {
        setScanning(false);
        setText(value);
        void find(value, "");
      })
      .catch((err: unknown) => {
        if (!(err instanceof DOMException && err.name === "AbortError")) setError(new Error("scan"));
        setScanning(false);
      });
    return () => stop.abort();
  }, [scanning]);

  return (
    <main class="screen screen-wide" data-screen="clin-search">
      <Header title={t("clin.searchTitle")} right={props.right} />
      {props.top}
      <form class="card" role="search" onSubmit={(e) => { e.preventDefault(); void find(text, birth); }}>
        <label class="field">
          <span>{t("clin.searchLabel")}</span>
          <input class="input" data-testid="clin-q" value={text} autoComplete="off" onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>{t("clin.birthDate")}</span>
          <input class="input" type="date" data-testid="clin-birth" value={birth} onInput={(e) => setBirth(e.currentTarget.value)} />
        </label>
        <div class="row-actions">
          {cameraAvailable() ? (
            <button type="button" class="btn btn-small" data-testid="clin-scan" onClick={() => setScanning(!scanning)}>
              {scanning ? t("clin.scanStop") : t("clin.scan")}
            </button>
          ) : null}
          <button type="submit" class="btn btn-primary btn-small" data-testid="clin-find" disabled={busy || !text.trim()}>
            {busy ? t("clin.searching") : t("clin.find")}
          </button>
        </div>
        {scanning ? (
          <>
            <p>{t("clin.scanPoint")}</p>
            <video ref={video} class="scan-video" muted playsInline aria-label={t("clin.scan")} />
          </>
        ) : null}
      </form>
      {error ? <Message kind="error">{error instanceof Error && error.message === "scan" ? t("clin.scanFailed") : clinProblem(error)}</Message> : null}
      {found ? (
        <section class="card" aria-labelledby="clin-found">
          <h2 id="clin-found">{t("clin.results", { n: found.length })}</h2>
          {found.length ? <PatientList patients={found} testid="clin-results" /> : <p class="muted">{t("clin.noResult")}</p>}
        </section>
      ) : null}
      <section class="card" aria-labelledby="clin-recent">
        <h2 id="clin-recent">{t("clin.recent")}</h2>
        {recent.length ? <PatientList patients={recent} testid="clin-recent" /> : <p class="muted">{t("clin.noRecent")}</p>}
      </section>
    </main>
  );
}
