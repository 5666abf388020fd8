import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { patientIdValid } from "../sequence/form.ts";
import { SEQUENCE_SCHEMA } from "../sequence/schema.ts";

declare global {
  class BarcodeDetector {
    constructor(opts?: { formats?: string[] });
    detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
  }
}

export function PatientScreen(props: { onBack: () => void; onPatient: (id: string) => void }) {
  const [id, setId] = useState("");
  const [id2, setId2] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const canScan = typeof BarcodeDetector !== "undefined";

  useEffect(() => {
    if (!scanning) return;
    const controller = new AbortController();
    let stream: MediaStream | undefined;
    (async () => {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } } });
      if (!video.current || controller.signal.aborted) return;
      video.current.srcObject = stream;
      await video.current.play();
      const detector = new BarcodeDetector({ formats: ["code_128", "code_39", "qr_code", "data_matrix", "ean_13"] });
      while (!controller.signal.aborted) {
        const found = await detector.detect(video.current).catch(() => []);
        const value = found.map((f) => f.rawValue.trim()).find((v) => patientIdValid(SEQUENCE_SCHEMA, v));
        if (value) {
          setId(value);
          setId2(value); // a scan is its own confirmation
          setScanning(false);
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })().catch(() => {
      setError(t("patient.scanUnavailable"));
      setScanning(false);
    });
    return () => {
      controller.abort();
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, [scanning]);

  function submit(e: Event) {
    e.preventDefault();
    const a = id.trim();
    if (!patientIdValid(SEQUENCE_SCHEMA, a)) return setError(t("patient.invalid"));
    if (a !== id2.trim()) return setError(t("patient.mismatch"));
    props.onPatient(a);
  }

  return (
    <main class="screen" data-screen="patient">
      <Header title={t("patient.title")} onBack={props.onBack} />
      <form class="card" onSubmit={submit}>
        <label class="field">
          <span>{t("patient.id")}</span>
          <input name="patient" class="input input-code" autoComplete="off" spellcheck={false} value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>{t("patient.confirm")}</span>
          <input name="patient2" class="input input-code" autoComplete="off" spellcheck={false} value={id2} onInput={(e) => setId2((e.target as HTMLInputElement).value)} />
        </label>
        {canScan ? (
          <button type="button" class="btn" onClick={() => setScanning((s) => !s)}>
            {t("patient.scan")}
          </button>
        ) : (
          <p class="small muted">{t("patient.scanUnavailable")}</p>
        )}
        {scanning ? <video ref={video} class="scan-video" muted playsInline /> : null}
        {error ? <Message kind="error">{error}</Message> : null}
        <button type="submit" class="btn btn-primary">{t("common.continue")}</button>
      </form>
    </main>
  );
}
