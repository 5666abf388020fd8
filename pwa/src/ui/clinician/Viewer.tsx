// One photo at full size (the preview rendition), zoom and pan by pinch, wheel, drag and keys
// (+ - 0, arrows), previous/next by keys (PageUp/PageDown, [ ]) and buttons. Downloading the original
// is a separate action with its own confirmation, offered only to those allowed (surgeons).
import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { LangSwitch, Message } from "../common.tsx";
import { downloadOriginal, previewUrl } from "./api.ts";
import { clampView, FIT, panBy, spread, viewerKey, zoomAt, type Photo, type Point, type View } from "./logic.ts";
import { clinProblem } from "./words.ts";

export function useZoom(box: { current: HTMLElement | null }) {
  const [view, setView] = useState<View>(FIT);
  const pointers = useRef(new Map<number, Point>());
  const size = () => {
    const r = box.current?.getBoundingClientRect();
    return { w: r?.width || 1, h: r?.height || 1, left: r?.left ?? 0, top: r?.top ?? 0 };
  };
  const handlers = {
    onWheel: (e: WheelEvent) => {
      e.preventDefault();
      const s = size();
      setView((v) => zoomAt(v, e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - s.left, e.clientY - s.top, s.w, s.h));
    },
    onPointerDown: (e: PointerEvent) => {
      (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
      pointers.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
    },
    onPointerMove: (e: PointerEvent) => {
      const map = pointers.current;
      const before = map.get(e.pointerId);
      if (!before) return;
      const s = size();
      const other = [...map.entries()].find(([id]) => id !== e.pointerId)?.[1];
      if (other) {
        const now = { x: e.clientX, y: e.clientY };
        const factor = spread(other, now) / Math.max(1, spread(other, before));
        const mid = { x: (other.x + now.x) / 2 - s.left, y: (other.y + now.y) / 2 - s.top };
        setView((v) => zoomAt(v, factor, mid.x, mid.y, s.w, s.h));
      } else {
        setView((v) => panBy(v, e.clientX - before.x, e.clientY - before.y, s.w, s.h));
      }
      map.set(e.pointerId, { x: e.clientX, y: e.clientY });
    },
    onPointerUp: (e: PointerEvent) => void pointers.current.delete(e.pointerId),
    onPointerCancel: (e: PointerEvent) => void pointers.current.delete(e.pointerId),
  };
  const key = (k: string): boolean => {
    const s = size();
    const next = viewerKey(view, k, s.w, s.h);
    if (!next) return false;
    setView(clampView(next, s.w, s.h));
    return true;
  };
  return { view, setView, handlers, key };
}

export function ZoomImage(props: { src: string; alt: string; zoom: ReturnType<typeof useZoom>; boxRef: { current: HTMLDivElement | null }; testid?: string }) {
  const { view, handlers } = props.zoom;
  return (
    <div class="zoom-box" ref={props.boxRef} {...handlers} data-scale={view.scale.toFixed(2)} data-testid={props.testid}>
      <img src={props.src} alt={props.alt} draggable={false}
        style={{ transform: `translate(${view.x}px, ${view.y}px) scale(${view.scale})` }} />
    </div>
  );
}

export function Viewer(props: { photos: Photo[]; index: number; canOriginal: boolean; onIndex: (i: number) => void; onClose: () => void; title: (p: Photo) => string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const zoom = useZoom(box);
  const [asking, setAsking] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const photo = props.photos[props.index]!;
  const n = props.photos.length;
  const go = (d: number) => props.onIndex((props.index + d + n) % n);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  useEffect(() => {
    zoom.setView(FIT);
    setAsking(false);
    setSaved(null);
    setError(null);
  }, [props.index]);

  const onKey = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement).tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return;
    if (e.key === "PageDown" || e.key === "]" || (zoom.view.scale === 1 && e.key === "ArrowRight")) go(1);
    else if (e.key === "PageUp" || e.key === "[" || (zoom.view.scale === 1 && e.key === "ArrowLeft")) go(-1);
    else if (!zoom.key(e.key)) return;
    e.preventDefault();
  };
  const original = async () => {
    setError(null);
    try {
      setSaved(await downloadOriginal(photo.id));
      setAsking(false);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <dialog ref={dialog} class="viewer" aria-labelledby="viewer-title" data-testid="viewer" onKeyDown={onKey}
      onCancel={(e) => { e.preventDefault(); props.onClose(); }}>
      <div class="viewer-bar">
        <h2 id="viewer-title" class="grow wrap" data-testid="viewer-title">{props.title(photo)}</h2>
        <span class="muted small" aria-live="polite">{t("clin.photoOf", { i: props.index + 1, n })}</span>
        <LangSwitch />
        <button type="button" class="btn btn-small" data-testid="viewer-close" onClick={props.onClose}>{t("clin.close")}</button>
      </div>
      <ZoomImage src={previewUrl(photo.id)} alt={props.title(photo)}
        zoom={zoom} boxRef={box} testid="viewer-image" />
      <div class="viewer-tools" role="toolbar" aria-label={t("clin.zoomTools")}>
        <button type="button" class="btn btn-small" data-testid="viewer-prev" onClick={() => go(-1)} disabled={n < 2}>‹ {t("clin.previous")}</button>
        <button type="button" class="btn btn-small" data-testid="zoom-out" aria-label={t("clin.zoomOut")} onClick={() => zoom.key("-")}>−</button>
        <span class="small nowrap" data-testid="zoom-level" aria-live="polite">{Math.round(zoom.view.scale * 100)} %</span>
        <button type="button" class="btn btn-small" data-testid="zoom-in" aria-label={t("clin.zoomIn")} onClick={() => zoom.key("+")}>+</button>
        <button type="button" class="btn btn-small" data-testid="zoom-fit" onClick={() => zoom.key("0")}>{t("clin.zoomFit")}</button>
        <button type="button" class="btn btn-small" data-testid="viewer-next" onClick={() => go(1)} disabled={n < 2}>{t("clin.next")} ›</button>
      </div>
      <p class="muted small">{t("clin.viewerKeys")}</p>
      {props.canOriginal ? (
        asking ? (
          <div class="card card-info" role="group" aria-labelledby="orig-q">
            <p id="orig-q">{t("clin.originalConfirm")}</p>
            <div class="row-actions">
              <button type="button" class="btn btn-small" onClick={() => setAsking(false)}>{t("common.cancel")}</button>
              <button type="button" class="btn btn-primary btn-small" data-testid="original-yes" onClick={() => void original()}>{t("clin.originalYes")}</button>
            </div>
          </div>
        ) : (
          <button type="button" class="btn btn-small" data-testid="original" onClick={() => setAsking(true)}>{t("clin.original")}</button>
        )
      ) : null}
      {saved ? <Message kind="ok">{t("clin.saved", { name: saved })}</Message> : null}
      {error ? <Message kind="error">{clinProblem(error)}</Message> : null}
    </dialog>
  );
}
