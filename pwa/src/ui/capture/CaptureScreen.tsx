import { useEffect, useRef, useState } from "preact/hooks";
import { ADDITIONAL_VIEW, missingViews, viewToShoot } from "./views.ts";
import { openCamera, stopCamera, takePhoto } from "../../capture/camera.ts";
import { captureBytes, storePreview } from "../../capture/pipeline.ts";
import { decrypt, decryptJson } from "../../crypto/localkey.ts";
import type { SealingKey } from "../../crypto/seal.ts";
import { cameraErrorCode, errorText } from "../../i18n/errors.ts";
import { formatDateTime, label, lang, plural, t, type MessageKey } from "../../i18n/index.ts";
import type { PhotoRecord, Store } from "../../storage/db.ts";
import { Header, Message, PatientBanner, Progress } from "../common.tsx";
import { completeness } from "../sequence/form.ts";
import type { SequenceSummary } from "../sequence/FormScreen.tsx";
import { FIELDS, PROTOCOLS, VIEWS } from "../sequence/schema.ts";
import { guideFor } from "./guides.ts";
import { fetchPriors, priorImage } from "../../capture/priors.ts";

/** The ghost overlay's starting opacity: faint enough to see the live scene through it. */
export const GHOST_OPACITY = 0.35;

/** The label of a coded form value, in the current language ("" when not answered). */
function answer(key: string, value: string | undefined): string {
  const option = FIELDS.find((f) => f.key === key)?.options.find((o) => o.value === value);
  return option ? label(option.label, value, lang()) : (value ?? "");
}

/** Patient, procedure, region and side, always in view and in large type while photographing. */
function CaptureContext(props: { summary: SequenceSummary; person?: { id: string; name: string } | null }) {
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
      {props.person ? <p class="ctx-person" data-testid="ctx-person" data-person={props.person.id}>{t("capture.takenBy", { name: props.person.name })}</p> : null}
    </section>
  );
}

/** How long a replaced photo is kept for Undo after a retake. */
export const UNDO_MS = 8_000;

interface Replacement {
  old: PhotoRecord;
  fresh: PhotoRecord;
}

type Status = { kind: "ok" | "error" | "info"; key: MessageKey; params?: Record<string, string> };

export function CaptureScreen(props: {
  store: Store; localKey: CryptoKey; sealing: SealingKey; sequenceId: string; onBack: () => void; onDone: () => void;
  /** Keep the session unlocked while the camera is live; returns the release. */
  hold?: () => () => void;
  /** The server, to fetch this patient's priors for the ghost overlay while online. */
  base?: string;
  /** The person unlocked now: shown, and named in every photo taken here. */
  person?: { id: string; name: string } | null;
}) {
  const [summary, setSummary] = useState<SequenceSummary | null>(null);
  const [photos, setPhotos] = useState<PhotoRecord[]>([]);
  const [thumbs, setThumbs] = useState<Record<string, string>>({});
  const [view, setView] = useState<string | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [busy, setBusy] = useState(false);
  const [camError, setCamError] = useState<string | null>(null);
  const [retakeOf, setRetakeOf] = useState<PhotoRecord | null>(null);
  const [replaced, setReplaced] = useState<Replacement | null>(null);
  const [toDelete, setToDelete] = useState<PhotoRecord | null>(null);
  const [askFinish, setAskFinish] = useState(false);
  const [review, setReview] = useState<string | null>(null);
  const [frame, setFrame] = useState<{ w: number; h: number } | null>(null);
  const [ghost, setGhost] = useState<{ url: string; capturedAt: string } | null>(null);
  const [ghostOn, setGhostOn] = useState(true);
  const [ghostOpacity, setGhostOpacity] = useState(GHOST_OPACITY);
  const [priorsFetched, setPriorsFetched] = useState(0);
  const [ghostLooked, setGhostLooked] = useState<string>(""); // "<fetches>:<view>" once the lookup is done
  const video = useRef<HTMLVideoElement>(null);
  const stream = useRef<MediaStream | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const pendingOld = useRef<PhotoRecord | null>(null);
  const releaseHold = useRef<(() => void) | null>(null);
  const l = lang();

  const protocol = summary ? PROTOCOLS.protocols[summary.protocol] : undefined;
  // A photo replaced by a retake stays stored (for Undo) but no longer counts or shows.
  const shown = photos.filter((p) => p.id !== replaced?.old.id);
  const views = protocol?.views ?? ["overview", "close_up"];
  const comp = completeness(protocol, shown.map((p) => p.view));
  const current = retakeOf?.view ?? view ?? viewToShoot(protocol, views, comp);
  const info = VIEWS.get(current);
  const guide = guideFor(summary?.values["anatomical_region"], current);
  const patientId = summary?.patientId;

  // The patient is identified: while online, fetch their priors now (the phone keeps them for later, offline).
  useEffect(() => {
    if (!patientId || !props.base || !navigator.onLine) return;
    const controller = new AbortController();
    fetchPriors(props.store, props.base, props.localKey, patientId, controller.signal)
      .then(() => setPriorsFetched((n) => n + 1))
      .catch(() => undefined); // offline, refused or restricted: no ghost, capture goes on
    return () => controller.abort();
  }, [patientId]);

  // The ghost: this patient's prior of the current view, never another patient's.
  useEffect(() => {
    let live = true;
    let url: string | null = null;
    setGhost(null);
    if (patientId) {
      void priorImage(props.store, props.localKey, patientId, current).then((found) => {
        if (!live) return;
        setGhostLooked(`${priorsFetched}:${current}`);
        if (!found) return;
        url = URL.createObjectURL(new Blob([found.jpeg], { type: "image/jpeg" }));
        setGhost({ url, capturedAt: found.meta.capturedAt });
      }).catch(() => undefined);
    }
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [patientId, current, priorsFetched]);
  const extra = shown.filter((p) => !views.includes(p.view));
  const rows = extra.length || current === ADDITIONAL_VIEW ? [...views, ADDITIONAL_VIEW] : views;
  const ordered = rows.flatMap((v) => shown.filter((p) => (v === ADDITIONAL_VIEW ? !views.includes(p.view) : p.view === v)));

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

  /** The undo window is over (or the sequence is left): the replaced photo goes now. */
  async function dropReplaced(refresh = true): Promise<void> {
    const old = pendingOld.current;
    if (!old) return;
    pendingOld.current = null;
    setPhotos((list) => list.filter((p) => p.id !== old.id)); // never shown again, not even for a frame
    setReplaced(null);
    const r = await props.store.discardPhoto(old.id);
    if (!r.ok) setStatus({ kind: "error", key: "capture.replacedKept" });
    if (refresh) await reload();
  }

  useEffect(() => {
    void (async () => {
      await props.store.reopenSequence(props.sequenceId);
      const seq = await props.store.sequence(props.sequenceId);
      if (seq) setSummary(await decryptJson<SequenceSummary>(props.localKey, seq.summary, seq.id));
      await reload();
    })();
    const controller = new AbortController();
    openCamera(controller.signal)
      .then(async (s) => {
        stream.current = s;
        // A live camera is a capture in progress: no auto-lock until the camera stops.
        const release = props.hold?.();
        if (release) s.getVideoTracks()[0]?.addEventListener("ended", release);
        releaseHold.current = release ?? null;
        if (video.current) {
          video.current.srcObject = s;
          await video.current.play().catch(() => undefined);
        }
      })
      .catch((e) => setCamError(cameraErrorCode(e)));
    return () => {
      controller.abort();
      stopCamera(stream.current);
      releaseHold.current?.();
      void dropReplaced(false);
      setThumbs((old) => {
        Object.values(old).forEach((u) => URL.revokeObjectURL(u));
        return {};
      });
    };
  }, [props.sequenceId]);

  useEffect(() => {
    if (!replaced) return;
    const id = setTimeout(() => void dropReplaced(), UNDO_MS);
    return () => clearTimeout(id);
  }, [replaced]);

  async function keep(source: Blob) {
    const bytes = new Uint8Array(await source.arrayBuffer());
    setStatus({ kind: "info", key: "capture.sealing" });
    const res = await captureBytes(bytes, { store: props.store, sealing: props.sealing, sequenceId: props.sequenceId, view: current, localKey: props.localKey, personId: props.person?.id });
    bytes.fill(0);
    if (!res.ok) {
      setStatus(res.error.message === "not a JPEG" ? { kind: "error", key: "capture.notJpeg" } : { kind: "error", key: "capture.failed", params: { message: errorText(res.error.code) } });
      return;
    }
    if (retakeOf) await dropReplaced(false); // an earlier replacement's window closes when a new one opens
    await storePreview(props.store, res.value.photo, source, props.localKey);
    await reload();
    if (retakeOf) {
      pendingOld.current = retakeOf;
      setReplaced({ old: retakeOf, fresh: res.value.photo });
      setRetakeOf(null);
      setStatus(null);
    } else {
      setStatus({ kind: "ok", key: "capture.sealed" });
    }
    setView(null);
  }

  async function shoot() {
    if (!stream.current || !video.current || busy) return;
    setBusy(true);
    try {
      await keep(await takePhoto(stream.current, video.current));
    } catch (e) {
      setStatus({ kind: "error", key: "capture.failed", params: { message: errorText(cameraErrorCode(e)) } });
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

  /** Undo a retake: the new photo goes, the original is back. */
  async function undo() {
    if (!replaced) return;
    const r = await props.store.discardPhoto(replaced.fresh.id);
    pendingOld.current = null;
    setReplaced(null);
    setStatus(r.ok ? { kind: "ok", key: "capture.undone" } : { kind: "error", key: "capture.undoFailed" });
    await reload();
  }

  async function remove(p: PhotoRecord) {
    setToDelete(null);
    const r = await props.store.discardPhoto(p.id);
    setStatus(r.ok ? { kind: "ok", key: "capture.deleted" } : { kind: "error", key: r.error.code === "conflict" ? "capture.inBatch" : "capture.deleteFailed" });
    await reload();
  }

  async function finish(confirmed = false) {
    if (!confirmed && comp.done < comp.total) return setAskFinish(true);
    await dropReplaced();
    await props.store.closeSequence(props.sequenceId, new Date().toISOString());
    props.onDone();
  }

  const missing = missingViews(protocol, shown.map((p) => p.view)).map((v) => label(VIEWS.get(v)?.label, v, l));
  const reviewIndex = review ? ordered.findIndex((p) => p.id === review) : -1;
  const reviewed = reviewIndex >= 0 ? ordered[reviewIndex] : undefined;

  return (
    <main class="screen screen-capture" data-screen="capture">
      <Header title={t("capture.title")} onBack={props.onBack} />
      {summary ? <CaptureContext summary={summary} person={props.person} /> : null}
      {/* The whole frame, at its own aspect: what is shown is what is stored (see capture/camera.ts). */}
      <div class="viewfinder" data-testid="viewfinder" data-ghost-looked={ghostLooked} style={frame ? { aspectRatio: `${frame.w} / ${frame.h}` } : undefined}>
        <video ref={video} muted playsInline autoPlay
          onLoadedMetadata={(e) => { const v = e.currentTarget as HTMLVideoElement; setFrame({ w: v.videoWidth, h: v.videoHeight }); }}
          onResize={(e) => { const v = e.currentTarget as HTMLVideoElement; setFrame({ w: v.videoWidth, h: v.videoHeight }); }} />
        {ghost && ghostOn ? (
          <img class="ghost" src={ghost.url} alt="" aria-hidden="true" data-testid="ghost" style={{ opacity: ghostOpacity }} />
        ) : null}
        <div class={`frame-guide guide-${guide}`} data-testid="frame-guide" data-guide={guide} aria-hidden="true" />
      </div>
      {/* Below the frame, not over it: nothing covers what will be stored. */}
      <div class="view-label" data-testid="expected-view" data-view={current}>
        {t(retakeOf ? "capture.retaking" : "capture.expected", { view: label(info?.label, current, l) })}
      </div>
      {info?.guide ? <p class="guide small">{t("capture.guide", { guide: label(info.guide, "", l) })}</p> : null}
      {ghost ? (
        <div class="ghost-controls" data-testid="ghost-controls">
          <p class="small">{t("capture.ghost.from", { date: formatDateTime(ghost.capturedAt, l) })}</p>
          <button type="button" class="btn btn-quiet" data-testid="ghost-toggle" data-shown={String(ghostOn)} onClick={() => setGhostOn(!ghostOn)}>
            {t(ghostOn ? "capture.ghost.hide" : "capture.ghost.show")}
          </button>
          {ghostOn ? (
            <label class="ghost-opacity">
              <span>{t("capture.ghost.opacity")}</span>
              <input type="range" min={10} max={80} step={5} value={Math.round(ghostOpacity * 100)} data-testid="ghost-opacity"
                aria-valuetext={`${Math.round(ghostOpacity * 100)} %`}
                onInput={(e) => setGhostOpacity(Number((e.currentTarget as HTMLInputElement).value) / 100)} />
            </label>
          ) : null}
        </div>
      ) : null}
      {camError ? <Message kind="error">{t("capture.noCamera", { message: errorText(camError) })}</Message> : null}
      {retakeOf ? (
        <div class="card card-info" data-testid="retake-pending">
          <p>{t("capture.retakeKeeps")}</p>
          <button type="button" class="btn" data-testid="retake-cancel" onClick={() => setRetakeOf(null)}>{t("capture.retakeCancel")}</button>
        </div>
      ) : null}
      <div class="actions">
        <button type="button" class="btn btn-shutter" data-testid="shoot" disabled={busy || !!camError} onClick={shoot}>
          {t("capture.shoot")}
        </button>
        <button type="button" class="btn" onClick={() => file.current?.click()} disabled={busy}>
          {t("capture.import")}
        </button>
        <input ref={file} type="file" accept="image/jpeg" multiple hidden onChange={importFiles} data-testid="import" aria-label={t("capture.import")} />
      </div>
      {status ? <Message kind={status.kind}>{t(status.key, status.params)}</Message> : null}
      <section class="card">
        {protocol ? (
          <>
            <p data-testid="completeness" id="completeness">{plural("capture.complete", comp.done, { done: comp.done, total: comp.total })}</p>
            <Progress value={comp.done} max={comp.total} labelledBy="completeness" />
          </>
        ) : null}
        <ul class="views">
          {rows.map((v) => {
            const taken = v === ADDITIONAL_VIEW ? extra : shown.filter((p) => p.view === v);
            const name = label(VIEWS.get(v)?.label, v, l);
            return (
              <li key={v} class={`view-row${v === current ? " current" : ""}`} data-view={v}>
                <button type="button" class="view-pick" onClick={() => { setRetakeOf(null); setView(v); }} aria-pressed={v === current}>
                  <span class="tick" aria-hidden="true">{taken.length ? "✓" : "○"}</span> {name}
                </button>
                {taken.map((p) => (
                  <span key={p.id} class="thumb-wrap" data-testid="photo" data-photo={p.id} data-view={p.view}>
                    <button type="button" class="thumb-btn" data-testid="review" onClick={() => setReview(p.id)} aria-label={t("capture.reviewOpen", { view: name })}>
                      {thumbs[p.id] ? <img class="thumb" src={thumbs[p.id]} alt="" /> : <span class="thumb thumb-empty" />}
                    </button>
                    <button type="button" class="btn btn-small" data-testid="retake" onClick={() => { setRetakeOf(p); setStatus(null); scrollTo(0, 0); }}>{t("capture.retake")}</button>
                    <button type="button" class="btn btn-small btn-quiet" data-testid="delete" onClick={() => setToDelete(p)} aria-label={t("capture.deleteOne", { view: name })}>{t("capture.delete")}</button>
                  </span>
                ))}
              </li>
            );
          })}
        </ul>
      </section>
      <button type="button" class="btn btn-primary btn-huge" data-testid="finish" onClick={() => void finish()}>
        {t("capture.done")}
      </button>

      {replaced ? (
        <div class="snackbar" role="status" data-testid="snackbar">
          <span>{t("capture.replaced", { view: label(VIEWS.get(replaced.old.view)?.label, replaced.old.view, l) })}</span>
          <button type="button" class="btn btn-small" data-testid="undo" onClick={() => void undo()}>{t("capture.undo")}</button>
        </div>
      ) : null}

      {toDelete ? (
        <div class="sheet" role="alertdialog" aria-modal="true" aria-labelledby="delete-q" data-testid="delete-dialog">
          <div class="card card-alert">
            <p id="delete-q">{t("capture.deleteQuestion", { view: label(VIEWS.get(toDelete.view)?.label, toDelete.view, l) })}</p>
            <button type="button" class="btn btn-danger" data-testid="delete-confirm" onClick={() => void remove(toDelete)}>{t("capture.deleteYes")}</button>
            <button type="button" class="btn" data-testid="delete-cancel" onClick={() => setToDelete(null)}>{t("capture.deleteNo")}</button>
          </div>
        </div>
      ) : null}

      {askFinish ? (
        <div class="sheet" role="alertdialog" aria-modal="true" aria-labelledby="finish-q" data-testid="finish-dialog">
          <div class="card card-alert">
            <p id="finish-q" data-testid="missing">{plural("capture.missing", missing.length, { views: missing.join(", ") })}</p>
            <button type="button" class="btn" data-testid="finish-confirm" onClick={() => void finish(true)}>{t("capture.finishAnyway")}</button>
            <button type="button" class="btn btn-primary" data-testid="finish-cancel" onClick={() => setAskFinish(false)}>{t("capture.keepShooting")}</button>
          </div>
        </div>
      ) : null}

      {reviewed ? (
        <div class="review" role="dialog" aria-modal="true" aria-labelledby="review-title" data-testid="review-dialog">
          <p class="review-title" id="review-title">
            {t("capture.reviewTitle", { view: label(VIEWS.get(reviewed.view)?.label, reviewed.view, l), n: reviewIndex + 1, total: ordered.length })}
          </p>
          {thumbs[reviewed.id] ? <img class="review-img" src={thumbs[reviewed.id]} alt={label(VIEWS.get(reviewed.view)?.label, reviewed.view, l)} /> : <p>{t("capture.noPreview")}</p>}
          <div class="review-actions">
            <button type="button" class="btn" disabled={reviewIndex === 0} onClick={() => setReview(ordered[reviewIndex - 1]!.id)}>{t("capture.previous")}</button>
            <button type="button" class="btn btn-primary" data-testid="review-close" onClick={() => setReview(null)}>{t("capture.close")}</button>
            <button type="button" class="btn" disabled={reviewIndex === ordered.length - 1} onClick={() => setReview(ordered[reviewIndex + 1]!.id)}>{t("capture.next")}</button>
          </div>
        </div>
      ) : null}
    </main>
  );
}
