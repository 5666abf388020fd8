import { useEffect, useState } from "preact/hooks";
import { plural, t } from "../../i18n/index.ts";
import { afterFailure, mayTry, type PinGuard } from "../../session/pinguard.ts";
import { UnlockError } from "../../session/unlock.ts";
import type { Store } from "../../storage/db.ts";
import { Header, Message } from "../common.tsx";

export function UnlockScreen(props: {
  /** How this person unlocks: their own PIN, or their passkey (PRF). */
  record: { method: "pin" | "prf" }; store?: Store; onUnlocked: (key: CryptoKey) => void; onBack: () => void; now?: () => number;
  /** Unlock as this person of the phone (session/people.ts unlockAs). */
  open: (pin: string) => Promise<CryptoKey>;
  /** The person's name, in the title. */
  name: string;
}) {
  const now = props.now ?? Date.now;
  const [pin, setPin] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [guard, setGuard] = useState<PinGuard>({ failures: 0 });
  const [forgotten, setForgotten] = useState(false);
  const [, tick] = useState(0);
  const isPin = props.record.method === "pin";

  useEffect(() => {
    if (isPin) void props.store?.pinGuard().then(setGuard);
    const id = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, []);

  const verdict = isPin ? mayTry(guard, now()) : { kind: "ok" as const };

  async function go(e?: Event) {
    e?.preventDefault();
    if (verdict.kind === "wait") return;
    setBusy(true);
    setError(null);
    try {
      const key = await props.open(pin);
      if (isPin && guard.failures) await props.store?.put("pinGuard", { failures: 0 });
      props.onUnlocked(key);
    } catch (err) {
      setPin("");
      if (isPin && props.store && err instanceof UnlockError && err.code === "wrong_secret") {
        const r = afterFailure(guard, now());
        if (r.forget) {
          await props.store.forgetLocalKey();
          setForgotten(true);
          return;
        }
        await props.store.put("pinGuard", r.guard);
        setGuard(r.guard);
        setError(plural("pin.left", r.attemptsLeft));
      } else {
        setError(t("unlock.wrong"));
      }
    } finally {
      setBusy(false);
    }
  }

  if (forgotten) {
    return (
      <main class="screen" data-screen="pin-forgotten">
        <Header title={t("pin.forgotTitle")} />
        <section class="card card-alert">
          <p class="lead" data-testid="pin-forgotten">{t("pin.forgotBody")}</p>
        </section>
        <button type="button" class="btn btn-primary" onClick={() => location.reload()}>{t("pin.newPin")}</button>
      </main>
    );
  }

  return (
    <main class="screen" data-screen="unlock">
      <Header title={t("who.forPerson", { name: props.name })} onBack={props.onBack} />
      <section class="card">
        {props.record.method === "prf" ? (
          <button type="button" class="btn btn-primary btn-huge" data-testid="unlock-passkey" disabled={busy} onClick={() => go()}>
            {busy ? t("unlock.working") : t("unlock.passkey")}
          </button>
        ) : (
          <form onSubmit={go}>
            <label class="field">
              <span>{t("unlock.pin")}</span>
              <input class="input input-pin" type="password" inputMode="numeric" autoComplete="current-password" autoFocus value={pin} disabled={verdict.kind === "wait"} onInput={(e) => setPin((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" class="btn btn-primary" disabled={busy || verdict.kind === "wait"}>
              {busy ? t("unlock.working") : t("unlock.submit")}
            </button>
          </form>
        )}
        {verdict.kind === "wait" ? <Message kind="warn">{t("pin.wait", { seconds: Math.ceil(verdict.ms / 1000) })}</Message> : null}
        {error ? <Message kind="error">{error}</Message> : null}
      </section>
    </main>
  );
}
