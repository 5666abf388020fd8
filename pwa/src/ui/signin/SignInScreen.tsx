import { useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { PeopleError, registerPasskey, signIn, type Person } from "../people/api.ts";

function failure(err: unknown): string {
  if (err instanceof PeopleError) {
    if (err.code === "signin_throttled") return t("people.throttled");
    if (err.code === "invitation_invalid") return t("people.linkInvalid");
    if (err.code === "offline") return t("people.offline");
    return t("people.signinFailed");
  }
  return t("people.cancelled"); // the browser's passkey dialog was closed or refused
}

/** Sign in with a passkey, or register one from a one-time link (token given). */
export function SignInScreen(props: { token?: string; onSignedIn: (p: Person) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState("");

  async function go(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(props.token ? await registerPasskey(props.token, label.trim() || t("people.passkeyDefault")) : await signIn());
    } catch (err) {
      setError(failure(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen" data-screen={props.token ? "register" : "signin"}>
      <Header title={props.token ? t("people.registerTitle") : t("people.signinTitle")} />
      <form class="card" onSubmit={go}>
        <p>{props.token ? t("people.registerIntro") : t("people.signinIntro")}</p>
        {props.token ? (
          <label class="field">
            <span>{t("people.passkeyLabel")}</span>
            <input name="label" class="input" maxLength={80} placeholder={t("people.passkeyDefault")} value={label}
              onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </label>
        ) : null}
        {error ? <Message kind="error">{error}</Message> : null}
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="passkey">
          {busy ? t("people.working") : props.token ? t("people.registerButton") : t("people.signinButton")}
        </button>
      </form>
    </main>
  );
}
