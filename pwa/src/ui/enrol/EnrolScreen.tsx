import { useEffect, useRef, useState } from "preact/hooks";
import { confirmEnrolment, enrol, ENROLMENT_REFUSED, normaliseCode } from "../../app.ts";
import { cameraAvailable, ENROL_FORMATS, enrolCodeFromHash, enrolCodeFromScan, scan } from "../../capture/scan.ts";
import { t } from "../../i18n/index.ts";
import type { DeviceRecord, Store } from "../../storage/db.ts";
import { retryDelayMs, SyncError } from "../../sync/protocol.ts";
import { Header, Message } from "../common.tsx";

const CODE_RE = /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/;

/** `#enrol=XXXX-XXXX-XXXX` in the address: take the code, and drop it from the address and history. */
function codeFromAddress(): string | null {
  if (typeof location === "undefined") return null;
  const code = enrolCodeFromHash(location.hash);
  if (code) history.replaceState(history.state, "", location.pathname + location.search);
  return code;
}

function failure(err: unknown): string {
  return err instanceof SyncError && err.code === "offline" ? t("enrol.offline") : t("enrol.failed", { message: (err as Error).message });
}

/**
 * Enrolment in two steps: the code gives a credential, stored at once (unconfirmed), then
 * confirmed to the server, which only then uses up the code. `pending` is a stored credential
 * not yet confirmed (the app was closed, or the network dropped): it is confirmed again, with
 * automatic retries; if the server refuses it for good the code form comes back.
 */
export function EnrolScreen(props: { store: Store; base: string; pending?: DeviceRecord; onEnrolled: (d: DeviceRecord) => void }) {
  const [pending, setPending] = useState<DeviceRecord | undefined>(props.pending);
  const [attempt, setAttempt] = useState(0);
  const [fromLink] = useState(codeFromAddress);
  const [code, setCode] = useState(fromLink ?? "");
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  // worded at render, so that switching the language rewords it
  const [problem, setProblem] = useState<{ word: () => string } | null>(null);
  const setError = (word: (() => string) | null) => setProblem(word ? { word } : null);
  const error = problem?.word() ?? null;
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
        setError(() => t("enrol.scanFailed"));
        setScanning(false);
      },
    );
    return () => controller.abort();
  }, [scanning]);

  // Confirm the stored credential; retry by itself (quickly, then every minute) until it is answered.
  useEffect(() => {
    if (!pending) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setBusy(true);
    confirmEnrolment(props.store, props.base, pending, controller.signal).then(
      (device) => props.onEnrolled(device),
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setBusy(false);
        if (err instanceof SyncError && ENROLMENT_REFUSED.has(err.code)) {
          setPending(undefined);
          setInfo(null);
          setError(() => t("enrol.refused"));
          return;
        }
        setError(() => t("enrol.confirmFailed", {
          message: err instanceof SyncError && err.code === "offline" ? t("enrol.offline") : (err as Error).message,
        }));
        timer = setTimeout(() => setAttempt((n) => n + 1), retryDelayMs(attempt));
      },
    );
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [pending, attempt]);

  async function submit(e: Event) {
    e.preventDefault();
    const normal = normaliseCode(code);
    if (!CODE_RE.test(normal)) return setError(() => t("enrol.badCode"));
    setBusy(true);
    setError(null);
    try {
      // Stored before it is confirmed: a lost answer here is retried with the same code.
      setPending(await enrol(props.store, props.base, normal, label.trim() || t("enrol.labelDefault")));
    } catch (err) {
      setError(() => failure(err));
      setBusy(false);
    }
  }

  if (pending) {
    return (
      <main class="screen" data-screen="enrol" data-step="confirming">
        <Header title={t("enrol.title")} />
        <section class="card">
          <p>{t("enrol.confirming", { label: pending.label })}</p>
          {error ? <Message kind="warn">{error}</Message> : null}
          <button type="button" class="btn btn-primary" data-testid="confirm-retry" disabled={busy} onClick={() => { setError(null); setAttempt((n) => n + 1); }}>
            {busy ? t("enrol.working") : t("common.retry")}
          </button>
        </section>
      </main>
    );
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
