import { useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { BREAK_GLASS_MIN_REASON, openBreakGlass, PeopleError } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { problem, when } from "../people/format.ts";

/** Emergency ("break-glass") access: a written reason opens photos for a short time, loudly audited. */
export function BreakGlassScreen(props: Chrome & { until: string | null; onOpened: (until: string) => void }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null); // worded at render, in the current language
  const length = reason.trim().length;
  const short = length < BREAK_GLASS_MIN_REASON;

  async function open(e: Event) {
    e.preventDefault();
    if (short) {
      setError(new PeopleError("break_glass_reason_required", "", 422));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      props.onOpened((await openBreakGlass(reason.trim())).break_glass_until);
      setReason("");
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen" data-screen="break-glass">
      <Header title={t("breakGlass.title")} right={props.right} />
      {props.top}
      {props.until ? (
        <section class="card card-alert" data-testid="break-glass-open">
          <h2>{t("breakGlass.openTitle")}</h2>
          <p>{t("breakGlass.openUntil", { when: when(props.until) })}</p>
          <p class="small muted">{t("breakGlass.openAudited")}</p>
        </section>
      ) : (
        <form class="card card-alert" onSubmit={open} noValidate>
          <p>{t("breakGlass.intro")}</p>
          <p class="small muted">{t("breakGlass.audited")}</p>
          <label class="field">
            <span>{t("breakGlass.reason")}</span>
            <textarea class="input textarea" name="reason" rows={4} maxLength={1000} required minLength={BREAK_GLASS_MIN_REASON}
              placeholder={t("breakGlass.reasonHint")} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
          </label>
          <p class={short ? "small muted" : "small ok"} aria-live="polite">
            {t("breakGlass.count", { count: length, min: BREAK_GLASS_MIN_REASON })}
          </p>
          {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
          <button type="submit" class="btn btn-danger" data-testid="open-break-glass" disabled={busy}>
            {busy ? t("people.working") : t("breakGlass.open")}
          </button>
        </form>
      )}
    </main>
  );
}
