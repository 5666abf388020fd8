import { useEffect, useRef, useState } from "preact/hooks";
import { enrol, normaliseCode } from "../../app.ts";
import { cameraAvailable, ENROL_FORMATS, enrolCodeFromHash, enrolCodeFromScan, scan } from "../../capture/scan.ts";
import { t } from "../../i18n/index.ts";
import type { DeviceRecord, Store } from "../../storage/db.ts";
import { SyncError } from "../../sync/protocol.ts";
import { Header, Message } from "../common.tsx";

const CODE_RE = /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/;

/** `#enrol=XXXX-XXXX-XXXX` in the address: take the code, and drop it from the address and history. */
function codeFromAddress(): string | null {
  if (typeof location === "undefined") return null;
  const code = enrolCodeFromHash(location.hash);
  if (code) history.replaceState(history.state, "", location.pathname + location.search);
  return code;
}

export function EnrolScreen(props: { store: Store; base: string; onEnrolled: (d: DeviceRecord) => void }) {
  const [fromLink] = useState(codeFromAddress);
  const [code, setCode] = useState(fromLink ?? "");
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(fromLink ? t("enrol.fromLink") : null);
  const [scanning, setScanning] = useState(false);
  const [notCode, setNotCode] = useState(false);
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    if (!scanning || !video.current) return;
    const controller = new AbortController();
    setNotCode(false);
    scan({ video: video.current, formats: ENROL_FORMATS, accept: enrolCodeFromScan, onRejected: () => setNotCode(true), signal: controller.signal }).then(
      (value) => {
        setCode(value);
        setInfo(t("enrol.scanned"));
        setScanning(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        console.warn("scan failed", err);
        setError(t("enrol.scanFailed"));
        setScanning(false);
      },
    );
    return () => controller.abort();
  }, [scanning]);

  async function submit(e: Event) {
    e.preventDefault();
    const normal = normaliseCode(code);
    if (!CODE_RE.test(normal)) return setError(t("enrol.badCode"));
    setBusy(true);
    setError(null);
    try {
      props.onEnrolled(await enrol(props.store, props.base, normal, label.trim() || t("enrol.labelDefault")));
    } catch (err) {
      setError(err instanceof SyncError && err.code === "offline" ? t("enrol.offline") : t("enrol.failed", { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  }

  if (scanning) {
    return (
      <main class="screen" data-screen="enrol" data-step="scanning">
        <Header title={t("enrol.title")} />
        <section class="card">
          <p>{t("enrol.scanPoint")}</p>
          <video ref={video} class="scan-video" data-testid="scan-video" muted playsInline />
          {notCode ? <Message kind="warn">{t("enrol.scanNotCode")}</Message> : null}
          <button type="button" class="btn" data-testid="scan-stop" onClick={() => setScanning(false)}>
            {t("enrol.scanStop")}
          </button>
        </section>
      </main>
    );
  }

  return (
    <main class="screen" data-screen="enrol" data-step="form">
      <Header title={t("enrol.title")} />
      <form class="card" onSubmit={submit}>
        <p>{t("enrol.intro")}</p>
        {cameraAvailable() ? (
          <button type="button" class="btn" data-testid="scan" onClick={() => { setError(null); setInfo(null); setScanning(true); }}>
            {t("enrol.scan")}
          </button>
        ) : null}
        <label class="field">
          <span>{t("enrol.code")}</span>
          <input
            name="code" class="input input-code" inputMode="text" autoCapitalize="characters" autoComplete="off" spellcheck={false}
            placeholder="XXXX-XXXX-XXXX" value={code} onInput={(e) => setCode(normaliseCode((e.target as HTMLInputElement).value))}
          />
        </label>
        <label class="field">
          <span>{t("enrol.label")}</span>
          <input name="label" class="input" placeholder={t("enrol.labelDefault")} value={label} maxLength={120} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
        </label>
        {info && !error ? <Message kind="info">{info}</Message> : null}
        {error ? <Message kind="error">{error}</Message> : null}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? t("enrol.working") : t("enrol.submit")}
        </button>
      </form>
    </main>
  );
}
