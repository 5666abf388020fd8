import { useEffect, useRef, useState } from "preact/hooks";
import { openCamera, stopCamera, takePhoto } from "../../capture/camera.ts";
import { captureBytes, storePreview } from "../../capture/pipeline.ts";
import { decrypt, decryptJson } from "../../crypto/localkey.ts";
import type { SealingKey } from "../../crypto/seal.ts";
import { label, lang, t, type MessageKey } from "../../i18n/index.ts";
import type { PhotoRecord, Store } from "../../storage/db.ts";
import { Header, Message, PatientBanner, Progress } from "../common.tsx";
import { completeness } from "../sequence/form.ts";
import type { SequenceSummary } from "../sequence/FormScreen.tsx";
import { FIELDS, PROTOCOLS, VIEWS } from "../sequence/schema.ts";
import { guideFor } from "./guides.ts";

/** The label of a coded form value, in the current language ("" when not answered). */
function answer(key: string, value: string | undefined): string {
  const option = FIELDS.find((f) => f.key === key)?.options.find((o) => o.value === value);
  return option ? label(option.label, value, lang()) : (value ?? "");
}

/** Patient, procedure, region and side, always in view and in large type while photographing. */
function CaptureContext(props: { summary: SequenceSummary }) {
  const v = props.summary.values;
  return (
    <section class="capture-context" data-testid="capture-context" aria-label={t("capture.context")}>
      <PatientBanner id={props.summary.patientId} />
      <p class="ctx-what" data-testid="ctx-what">
        {answer("procedure", v["procedure"])} · {answer("anatomical_region", v["anatomical_region"])}
      </p>
      <p class={`ctx-side side-${v["laterality"] ?? "none"}`} data-testid="ctx-side" data-side={v["laterality"] ?? ""}>
        {t("capture.side", { side: answer("laterality", v["laterality"]) })}
      </p>
    </section>
  );
}

export function CaptureScreen(props: { store: Store; localKey: CryptoKey; sealing: SealingKey; sequenceId: string; onBack: () => void; onDone: () => void }) {
  const [summary, setSummary] = useState<SequenceSummary | null>(null);
  const [photos, setPhotos] = useState<PhotoRecord[]>([]);
  const [thumbs, setThumbs] = useState<Record<string, string>>({});
  const [view, setView] = useState<string | null>(null);
  const [status, setStatus] = useState<{ kind: "ok" | "error" | "info"; key: MessageKey; params?: Record<string, string> } | null>(null);
  const [busy, setBusy] = useState(false);
  const [camError, setCamError] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const stream = useRef<MediaStream | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const l = lang();

  const protocol = summary ? PROTOCOLS.protocols[summary.protocol] : undefined;
  const views = protocol?.views ?? ["overview", "close_up"];
  const comp = completeness(protocol, photos.map((p) => p.view));
  const current = view ?? comp.next ?? views[0]!;
  const info = VIEWS.get(current);
  const guide = guideFor(summary?.values["anatomical_region"], current);

  async function reload() {
    const list = (await props.store.photos(props.sequenceId)).sort((a, b) => (a.capturedAt < b.capturedAt ? -1 : 1));
    setPhotos(list);
    const previews = await props.store.previews(props.sequenceId);
    const next: Record<string, string> = {};
    for (const p of previews) {
      try {
        next[p.photoId] = URL.createObjectURL(new Blob([await decrypt(props.localKey, p.box)], { type: "image/jpeg" }));
      } catch {
        /* preview unreadable: the sealed photo is what matters */
      }
    }
    setThumbs((old) => {
      Object.values(old).forEach((u) => URL.revokeObjectURL(u));
      return next;
    });
  }

  useEffect(() => {
    void (async () => {
      const seq = await props.store.sequence(props.sequenceId);
      if (seq) setSummary(await decryptJson<SequenceSummary>(props.localKey, seq.summary, seq.id));
      await reload();
    })();
    const controller = new AbortController();
    openCamera(controller.signal)
      .then(async (s) => {
        stream.current = s;
        if (video.current) {
          video.current.srcObject = s;
          await video.current.play().catch(() => undefined);
        }
      })
      .catch((e) => setCamError((e as Error).message));
    return () => {
      controller.abort();
      stopCamera(stream.current);
      setThumbs((old) => {
        Object.values(old).forEach((u) => URL.revokeObjectURL(u));
        return {};
      });
    };
  }, [props.sequenceId]);

  async function keep(source: Blob) {
    const bytes = new Uint8Array(await source.arrayBuffer());
    setStatus({ kind: "info", key: "capture.sealing" });
    const res = await captureBytes(bytes, { store: props.store, sealing: props.sealing, sequenceId: props.sequenceId, view: current, localKey: props.localKey });
    bytes.fill(0);
    if (!res.ok) {
      setStatus(res.error.message === "not a JPEG" ? { kind: "error", key: "capture.notJpeg" } : { kind: "error", key: "capture.failed", params: { message: res.error.message } });
      return;
    }
    setStatus({ kind: "ok", key: "capture.sealed" });
    setView(null);
    await storePreview(props.store, res.value.photo, source, props.localKey);
    await reload();
  }

  async function shoot() {
    if (!stream.current || !video.current || busy) return;
    setBusy(true);
    try {
      await keep(await takePhoto(stream.current, video.current));
    } catch (e) {
      setStatus({ kind: "error", key: "capture.failed", params: { message: (e as Error).message } });
    } finally {
      setBusy(false);
    }
  }

  async function importFiles(e: Event) {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    setBusy(true);
    for (const f of files) await keep(f);
    setBusy(false);
    if (file.current) file.current.value = "";
  }

  async function retake(p: PhotoRecord) {
    const r = await props.store.discardPhoto(p.id);
    if (!r.ok) return setStatus({ kind: "error", key: "capture.failed", params: { message: r.error.message } });
    setView(p.view);
    await reload();
  }

  async function finish() {
    await props.store.closeSequence(props.sequenceId, new Date().toISOString());
    props.onDone();
  }

  return (
    <main class="screen screen-capture" data-screen="capture">
      <Header title={t("capture.title")} onBack={props.onBack} />
      {summary ? <CaptureContext summary={summary} /> : null}
      <div class="viewfinder">
        <video ref={video} muted playsInline autoPlay />
        <div class={`frame-guide guide-${guide}`} data-testid="frame-guide" data-guide={guide} aria-hidden="true" />
        <div class="view-label" data-testid="expected-view">{t("capture.expected", { view: label(info?.label, current, l) })}</div>
      </div>
      {info?.guide ? <p class="guide small">{t("capture.guide", { guide: label(info.guide, "", l) })}</p> : null}
      {camError ? <Message kind="error">{t("capture.noCamera", { message: camError })}</Message> : null}
      <div class="actions">
        <button type="button" class="btn btn-shutter" data-testid="shoot" disabled={busy || !!camError} onClick={shoot} aria-label={t("capture.shoot")}>
          {t("capture.shoot")}
        </button>
        <button type="button" class="btn" onClick={() => file.current?.click()} disabled={busy}>
          {t("capture.import")}
        </button>
        <input ref={file} type="file" accept="image/jpeg" multiple hidden onChange={importFiles} data-testid="import" />
      </div>
      {status ? <Message kind={status.kind}>{t(status.key, status.params)}</Message> : null}
      <section class="card">
        {protocol ? (
          <>
            <p data-testid="completeness">{t("capture.complete", { done: comp.done, total: comp.total })}</p>
            <Progress value={comp.done} max={comp.total} />
          </>
        ) : null}
        <ul class="views">
          {views.map((v) => {
            const taken = photos.filter((p) => p.view === v);
            return (
              <li key={v} class={`view-row${v === current ? " current" : ""}`}>
                <button type="button" class="view-pick" onClick={() => setView(v)} aria-pressed={v === current}>
                  <span class="tick">{taken.length ? "✓" : "○"}</span> {label(VIEWS.get(v)?.label, v, l)}
                </button>
                {taken.map((p) => (
                  <span key={p.id} class="thumb-wrap" data-testid="photo">
                    {thumbs[p.id] ? <img class="thumb" src={thumbs[p.id]} alt="" /> : <span class="thumb thumb-empty" />}
                    <button type="button" class="btn btn-small" onClick={() => retake(p)}>{t("capture.retake")}</button>
                  </span>
                ))}
              </li>
            );
          })}
        </ul>
      </section>
      <button type="button" class="btn btn-primary btn-huge" data-testid="finish" onClick={finish}>
        {t("capture.done")}
      </button>
    </main>
  );
}
