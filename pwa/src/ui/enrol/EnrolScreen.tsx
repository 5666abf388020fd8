import { useState } from "preact/hooks";
import { enrol, normaliseCode } from "../../app.ts";
import { t } from "../../i18n/index.ts";
import type { DeviceRecord, Store } from "../../storage/db.ts";
import { SyncError } from "../../sync/protocol.ts";
import { Header, Message } from "../common.tsx";

const CODE_RE = /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/;

export function EnrolScreen(props: { store: Store; base: string; onEnrolled: (d: DeviceRecord) => void }) {
  const [code, setCode] = useState("");
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

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

  return (
    <main class="screen" data-screen="enrol">
      <Header title={t("enrol.title")} />
      <form class="card" onSubmit={submit}>
        <p>{t("enrol.intro")}</p>
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
        {error ? <Message kind="error">{error}</Message> : null}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? t("enrol.working") : t("enrol.submit")}
        </button>
      </form>
    </main>
  );
}
