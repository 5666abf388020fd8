import { useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { unlock } from "../../session/unlock.ts";
import type { UnlockRecord } from "../../storage/db.ts";
import { Header, Message } from "../common.tsx";

export function UnlockScreen(props: { record: UnlockRecord; onUnlocked: (key: CryptoKey) => void; onBack: () => void }) {
  const [pin, setPin] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function go(e?: Event) {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onUnlocked(await unlock(props.record, pin));
    } catch {
      setError(t("unlock.wrong"));
      setPin("");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen" data-screen="unlock">
      <Header title={t("unlock.title")} onBack={props.onBack} />
      <section class="card">
        {props.record.method === "prf" ? (
          <button type="button" class="btn btn-primary btn-huge" data-testid="unlock-passkey" disabled={busy} onClick={() => go()}>
            {busy ? t("unlock.working") : t("unlock.passkey")}
          </button>
        ) : (
          <form onSubmit={go}>
            <label class="field">
              <span>{t("unlock.pin")}</span>
              <input class="input input-pin" type="password" inputMode="numeric" autoComplete="current-password" value={pin} onInput={(e) => setPin((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" class="btn btn-primary" disabled={busy}>
              {busy ? t("unlock.working") : t("unlock.submit")}
            </button>
          </form>
        )}
        {error ? <Message kind="error">{error}</Message> : null}
      </section>
    </main>
  );
}
