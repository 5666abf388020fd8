import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { TodayPatient } from "../capture/today.ts";
import { formatDate, lang, onLangChange, setLang, t } from "../i18n/index.ts";

/** Re-render on language change. */
export function useLang(): void {
  const [, force] = useState(0);
  useEffect(() => onLangChange(() => force((n) => n + 1)), []);
}

export function LangSwitch() {
  return (
    <button type="button" class="link" data-testid="lang" onClick={() => setLang(lang() === "fr" ? "en" : "fr")}>
      {t("lang.switch")}
    </button>
  );
}

export function Header(props: { title: string; right?: ComponentChildren; onBack?: () => void }) {
  return (
    <header class="bar">
      {props.onBack ? (
        <button type="button" class="link" onClick={props.onBack} aria-label={t("common.back")}>
          ‹ {t("common.back")}
        </button>
      ) : props.right ? null : (
        <span class="brand">{t("app.title")}</span>
      )}
      <h1>{props.title}</h1>
      <div class="bar-right">
        {props.right}
        <LangSwitch />
      </div>
    </header>
  );
}

/** The patient being photographed; with today's list (capture/today.ts), their name and birth date to
 * confirm, or a warning that the identifier is not in it and the photos will be marked unverified. */
export function PatientBanner(props: { id: string; today?: { found: TodayPatient | null; department: string | null; list: boolean } }) {
  const found = props.today?.found;
  return (
    <div class="patient-banner" data-testid="patient-banner" role="status">
      {t("patient.banner", { id: props.id })}
      {found ? (
        <div data-testid="today-found">
          <strong>{[found.family?.toUpperCase(), found.given].filter(Boolean).join(" ")}</strong>
          {found.birthDate ? <> · {t(found.sex === "F" ? "today.bornF" : found.sex === "M" ? "today.bornM" : "today.bornX", { birth: formatDate(found.birthDate) })}</> : null}
          <div class="small">{t("today.inList", { department: props.today?.department ?? "" })}</div>
        </div>
      ) : props.today ? (
        <div class="msg msg-warn small" data-testid="today-unverified">
          {props.today.list ? t("today.unverified", { department: props.today.department ?? "" }) : t("today.noList")}
        </div>
      ) : null}
    </div>
  );
}

export function Message(props: { kind: "error" | "warn" | "ok" | "info"; children: ComponentChildren }) {
  return (
    <p class={`msg msg-${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.children}
    </p>
  );
}

/** A progress bar; give it a name (`label`, or `labelledBy` the id of visible text): unnamed bars fail axe. */
export function Progress(props: { value: number; max: number; label?: string; labelledBy?: string }) {
  const pct = props.max ? Math.round((props.value / props.max) * 100) : 0;
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={props.label} aria-labelledby={props.labelledBy}>
      <div class="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** A screen that only explains what happened and offers one way out: start the app again. */
export function NoticeScreen(props: { screen: string; title: string; body: string; action: string }) {
  return (
    <main class="screen" data-screen={props.screen}>
      <Header title={props.title} />
      <section class="card card-alert" role="alert">
        <p class="lead">{props.body}</p>
      </section>
      <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
        {props.action}
      </button>
    </main>
  );
}
