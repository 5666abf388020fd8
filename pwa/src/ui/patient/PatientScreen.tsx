import { useEffect, useRef, useState } from "preact/hooks";
import { cameraAvailable, scan, WRISTBAND_FORMATS } from "../../capture/scan.ts";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { acceptPatientId } from "./accept.ts";
import { patientIdValid } from "../sequence/form.ts";
import { SEQUENCE_SCHEMA } from "../sequence/schema.ts";

/** As big as fits on one line of a phone (the identifier should not break at its hyphen). */
function bigSize(id: string): string {
  return id.length <= 9 ? "2.4rem" : id.length <= 12 ? "1.9rem" : id.length <= 16 ? "1.5rem" : id.length <= 22 ? "1.1rem" : "1rem";
}

export function PatientScreen(props: { onBack: () => void; onPatient: (id: string) => void }) {
  const [id, setId] = useState("");
  const [id2, setId2] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const [notId, setNotId] = useState<string | null>(null);
  const [scanned, setScanned] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const canScan = cameraAvailable();

  useEffect(() => {
    if (!scanning || !video.current) return;
    const controller = new AbortController();
    setNotId(null);
    scan({
      video: video.current, formats: WRISTBAND_FORMATS, accept: acceptPatientId, signal: controller.signal,
      onRejected: (text) => setNotId(text.slice(0, 64)),
    }).then(
      (value) => {
        setScanned(value);
        setScanning(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        console.warn("scan failed", err);
        setError(t("patient.scanFailed"));
        setScanning(false);
      },
    );
    return () => controller.abort();
  }, [scanning]);

  function submit(e: Event) {
    e.preventDefault();
    const a = id.trim();
    if (!patientIdValid(SEQUENCE_SCHEMA, a)) return setError(t("patient.invalid"));
    if (a !== id2.trim()) return setError(t("patient.mismatch"));
    props.onPatient(a);
  }

  if (scanned !== null) {
    // A scanned identifier is shown big and confirmed by the person: right photo, right patient.
    return (
      <main class="screen" data-screen="patient" data-step="confirm-scan">
        <Header title={t("patient.title")} onBack={props.onBack} />
        <section class="card" aria-live="polite">
          <p class="muted small">{t("patient.scanRead")}</p>
          <p class="input-code" data-testid="scanned-id" style={{ fontSize: bigSize(scanned), fontWeight: 800, margin: "4px 0", overflowWrap: "anywhere", textAlign: "center" }}>
            {scanned}
          </p>
          <h2 style={{ textAlign: "center", margin: "8px 0" }}>{t("patient.scanQuestion")}</h2>
          <button type="button" class="btn btn-primary" data-testid="scan-yes" onClick={() => props.onPatient(scanned)}>
            {t("patient.scanYes")}
          </button>
          <button type="button" class="btn" data-testid="scan-again" onClick={() => { setScanned(null); setScanning(true); }}>
            {t("patient.scanNo")}
          </button>
          <button type="button" class="link" data-testid="scan-type" onClick={() => setScanned(null)}>
            {t("patient.scanType")}
          </button>
        </section>
      </main>
    );
  }

  return (
    <main class="screen" data-screen="patient" data-step={scanning ? "scanning" : "type"}>
      <Header title={t("patient.title")} onBack={props.onBack} />
      {scanning ? (
        <section class="card">
          <p>{t("patient.scanPoint")}</p>
          <video ref={video} class="scan-video" data-testid="scan-video" muted playsInline />
          {notId ? <Message kind="warn">{t("patient.scanNotId", { value: notId })}</Message> : null}
          <button type="button" class="btn" data-testid="scan-stop" onClick={() => setScanning(false)}>
            {t("patient.scanStop")}
          </button>
        </section>
      ) : (
        <form class="card" onSubmit={submit}>
          {canScan ? (
            <button type="button" class="btn" data-testid="scan" onClick={() => { setError(null); setScanning(true); }}>
              {t("patient.scan")}
            </button>
          ) : (
            <p class="small muted">{t("patient.scanUnavailable")}</p>
          )}
          <label class="field">
            <span>{t("patient.id")}</span>
            <input name="patient" class="input input-code" autoComplete="off" spellcheck={false} value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>{t("patient.confirm")}</span>
            <input name="patient2" class="input input-code" autoComplete="off" spellcheck={false} value={id2} onInput={(e) => setId2((e.target as HTMLInputElement).value)} />
          </label>
          {error ? <Message kind="error">{error}</Message> : null}
          <button type="submit" class="btn btn-primary">{t("common.continue")}</button>
        </form>
      )}
    </main>
  );
}
