// Two sequences of one patient, photos of the same view paired: side by side, an overlay with a
// slider (drag or keys), or blink (alternating at an interval, pausable).
import { useEffect, useRef, useState } from "preact/hooks";
import { lang, t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { previewUrl, timeline } from "./api.ts";
import { codedWords, dateWords, pairByView, patientHash, similarityFrom, sliderKey, type Point, type Sequence, type Similarity } from "./logic.ts";
import { viewName } from "./TimelineScreen.tsx";
import { clinProblem } from "./words.ts";

type Mode = "side" | "overlay" | "blink";
/** A landmark: x and y in image widths (what the similarity needs), `down` in image heights (where to draw it). */
type Mark = Point & { down: number };
export const BLINK_MS = 800;

/** Width of an element, kept current (the alignment's translation is in units of the image width). */
function useWidth(ref: { current: HTMLElement | null }, deps: unknown[]): number {
  const [w, setW] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, deps);
  return w;
}

/** The "after" photo moved onto the "before" one: landmarks are in image widths, so scale by the shown width. */
function alignStyle(s: Similarity | null, width: number): Record<string, string> {
  if (!s || !width) return {};
  return { transform: `matrix(${s.a}, ${s.b}, ${-s.b}, ${s.a}, ${s.tx * width}, ${s.ty * width})`, transformOrigin: "0 0" };
}

function seqWords(s: Sequence): string {
  return `${dateWords(s.taken_at, lang(), true)} · ${codedWords(s.procedure, lang())}`; // with the time: two sequences of one day differ
}

export function CompareScreen(props: Chrome & { patientId: string }) {
  const [sequences, setSequences] = useState<Sequence[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [leftId, setLeftId] = useState("");
  const [rightId, setRightId] = useState("");
  const [index, setIndex] = useState(0);
  const [mode, setMode] = useState<Mode>("side");
  const [pos, setPos] = useState(50);
  const [shown, setShown] = useState<"left" | "right">("left");
  const [playing, setPlaying] = useState(true);
  const stage = useRef<HTMLDivElement>(null);
  const blinkBox = useRef<HTMLElement>(null);
  const [marking, setMarking] = useState(false);
  const [marks, setMarks] = useState<{ left: Mark[]; right: Mark[] }>({ left: [], right: [] });
  const stageWidth = useWidth(stage, [mode, index]);
  const blinkWidth = useWidth(blinkBox, [mode, index]);

  useEffect(() => {
    timeline(props.patientId).then((r) => {
      setSequences(r.sequences);
      // oldest on the left, newest on the right (the list is newest first)
      setLeftId(r.sequences[r.sequences.length - 1]?.id ?? "");
      setRightId(r.sequences[0]?.id ?? "");
    }, setError);
  }, [props.patientId]);
  useEffect(() => {
    if (mode !== "blink" || !playing) return;
    const timer = setInterval(() => setShown((s) => (s === "left" ? "right" : "left")), BLINK_MS);
    return () => clearInterval(timer);
  }, [mode, playing]);

  const left = sequences?.find((s) => s.id === leftId);
  const right = sequences?.find((s) => s.id === rightId);
  const pairing = left && right ? pairByView(left.photos, right.photos) : null;
  const pair = pairing?.pairs[Math.min(index, Math.max(0, pairing.pairs.length - 1))];
  const l = lang();
  const align = marks.left.length === 2 && marks.right.length === 2
    ? similarityFrom([marks.right[0]!, marks.right[1]!], [marks.left[0]!, marks.left[1]!]) : null;
  useEffect(() => {
    setMarks({ left: [], right: [] });
    setMarking(false);
  }, [index, leftId, rightId]);
  const mark = (side: "left" | "right") => (e: MouseEvent) => {
    if (!marking || marks[side].length >= 2) return;
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    if (!r.width) return;
    const next = { ...marks, [side]: [...marks[side], { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.width, down: (e.clientY - r.top) / r.height }] };
    setMarks(next);
    if (next.left.length === 2 && next.right.length === 2) setMarking(false);
  };
  const dots = (side: "left" | "right") => marks[side].map((p, i) => (
    <span key={i} class="mark" style={{ left: `${p.x * 100}%`, top: `${p.down * 100}%` }} aria-hidden="true">{i + 1}</span>
  ));

  const drag = (e: PointerEvent) => {
    if (e.type !== "pointerdown" && !(e.buttons & 1)) return;
    const r = stage.current?.getBoundingClientRect();
    if (!r || !r.width) return;
    setPos(Math.round(Math.min(100, Math.max(0, ((e.clientX - r.left) / r.width) * 100))));
  };
  const pick = (label: string, value: string, set: (v: string) => void, testid: string) => (
    <label class="field">
      <span>{label}</span>
      <select class="input" value={value} data-testid={testid} onChange={(e) => { set(e.currentTarget.value); setIndex(0); }}>
        {sequences!.map((s) => <option key={s.id} value={s.id}>{seqWords(s)}</option>)}
      </select>
    </label>
  );

  return (
    <main class="screen screen-wide" data-screen="clin-compare">
      <Header title={t("clin.compareTitle")} right={props.right} />
      {props.top}
      <a href={patientHash(props.patientId)} class="link" data-testid="compare-back">‹ {t("clin.backToTimeline")}</a>
      {error ? <Message kind="error">{clinProblem(error)}</Message> : null}
      {sequences ? (
        <div class="card filters">
          {pick(t("clin.before"), leftId, setLeftId, "compare-left")}
          {pick(t("clin.after"), rightId, setRightId, "compare-right")}
        </div>
      ) : null}
      {pairing && left && right ? (
        <>
          <p data-testid="pair-count" role="status">{t("clin.pairs", { n: pairing.pairs.length })}</p>
          {pairing.onlyLeft.length || pairing.onlyRight.length ? (
            <Message kind="info">
              <span data-testid="unmatched">
                {t("clin.unmatched", {
                  views: [...pairing.onlyLeft.map((p) => `${viewName(p)} (${t("clin.before")})`), ...pairing.onlyRight.map((p) => `${viewName(p)} (${t("clin.after")})`)].join(", "),
                })}
              </span>
            </Message>
          ) : null}
          {pair ? (
            <section class="card" aria-labelledby="pair-title">
              <div class="row-between">
                <h2 id="pair-title" data-testid="pair-view">{viewName(pair.left)}</h2>
                <div class="row-actions">
                  <button type="button" class="btn btn-small" data-testid="pair-prev" disabled={index === 0} onClick={() => setIndex(index - 1)}>‹ {t("clin.previous")}</button>
                  <button type="button" class="btn btn-small" data-testid="pair-next" disabled={index >= pairing.pairs.length - 1} onClick={() => setIndex(index + 1)}>{t("clin.next")} ›</button>
                </div>
              </div>
              <div class="seg-options seg-3" role="radiogroup" aria-label={t("clin.compareMode")}>
                {(["side", "overlay", "blink"] as const).map((m) => (
                  <button key={m} type="button" role="radio" aria-checked={mode === m} class={`seg-btn ${mode === m ? "on" : ""}`} data-testid={`mode-${m}`} onClick={() => setMode(m)}>
                    {t(`clin.mode.${m}`)}
                  </button>
                ))}
              </div>
              {mode === "side" ? (
                <>
                  <div class={`side-by-side ${marking ? "marking" : ""}`}>
                    <figure><div class="markable"><img src={previewUrl(pair.left.id)} alt={t("clin.photoAlt", { view: viewName(pair.left), date: dateWords(left.taken_at, l) })} data-testid="left-img" onClick={mark("left")} />{dots("left")}</div>
                      <figcaption>{t("clin.before")} · {dateWords(left.taken_at, l)}</figcaption></figure>
                    <figure><div class="markable"><img src={previewUrl(pair.right.id)} alt={t("clin.photoAlt", { view: viewName(pair.right), date: dateWords(right.taken_at, l) })} data-testid="right-img" onClick={mark("right")} />{dots("right")}</div>
                      <figcaption>{t("clin.after")} · {dateWords(right.taken_at, l)}</figcaption></figure>
                  </div>
                  <div class="row-between">
                    <p class="small" role="status" data-testid="align-status">
                      {marking ? t("clin.alignHelp", { n: marks.left.length + marks.right.length }) : align ? t("clin.aligned") : t("clin.alignIntro")}
                    </p>
                    {marking || align ? (
                      <button type="button" class="btn btn-small" data-testid="align-clear" onClick={() => { setMarks({ left: [], right: [] }); setMarking(false); }}>{t("clin.alignClear")}</button>
                    ) : (
                      <button type="button" class="btn btn-small" data-testid="align-start" onClick={() => setMarking(true)}>{t("clin.alignStart")}</button>
                    )}
                  </div>
                </>
              ) : mode === "overlay" ? (
                <>
                  <div class="overlay-stage" ref={stage} onPointerDown={drag} onPointerMove={drag} data-testid="overlay">
                    <img src={previewUrl(pair.right.id)} alt={t("clin.photoAlt", { view: viewName(pair.right), date: dateWords(right.taken_at, l) })} draggable={false}
                      style={alignStyle(align, stageWidth)} data-testid="overlay-after" />
                    <img src={previewUrl(pair.left.id)} alt={t("clin.photoAlt", { view: viewName(pair.left), date: dateWords(left.taken_at, l) })} draggable={false}
                      class="overlay-top" style={{ clipPath: `inset(0 ${100 - pos}% 0 0)` }} />
                    <div class="overlay-line" style={{ left: `${pos}%` }} aria-hidden="true" />
                  </div>
                  <div class="overlay-slider" role="slider" tabIndex={0} aria-label={t("clin.sliderLabel")} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pos}
                    aria-valuetext={t("clin.sliderText", { n: pos })} data-testid="slider"
                    onKeyDown={(e) => { const next = sliderKey(pos, e.key); if (next !== null) { e.preventDefault(); setPos(next); } }}>
                    <span>{t("clin.before")}</span><span class="nowrap">{pos} %</span><span>{t("clin.after")}</span>
                  </div>
                </>
              ) : (
                <>
                  <figure class="blink" data-testid="blink" data-shown={shown} ref={blinkBox}>
                    <img src={previewUrl(shown === "left" ? pair.left.id : pair.right.id)} style={shown === "right" ? alignStyle(align, blinkWidth) : {}}
                      alt={t("clin.photoAlt", { view: viewName(pair.left), date: dateWords((shown === "left" ? left : right).taken_at, l) })} />
                    <figcaption aria-live={playing ? "off" : "polite"}>{shown === "left" ? t("clin.before") : t("clin.after")} · {dateWords((shown === "left" ? left : right).taken_at, l)}</figcaption>
                  </figure>
                  <div class="row-actions">
                    <button type="button" class="btn btn-small" data-testid="blink-toggle" aria-pressed={!playing} onClick={() => setPlaying(!playing)}>
                      {playing ? t("clin.pause") : t("clin.play")}
                    </button>
                    <button type="button" class="btn btn-small" data-testid="blink-swap" disabled={playing} onClick={() => setShown(shown === "left" ? "right" : "left")}>{t("clin.swap")}</button>
                  </div>
                </>
              )}
            </section>
          ) : <p class="muted">{t("clin.noPair")}</p>}
        </>
      ) : null}
    </main>
  );
}
