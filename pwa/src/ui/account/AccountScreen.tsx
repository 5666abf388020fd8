import { useState } from "preact/hooks";
import { t, type MessageKey } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { addPasskey, removePasskey, type Account } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { problem, when } from "../people/format.ts";
import type { Role } from "../../roles.ts";

/** Anyone signed in: who they are, their passkeys (add one, remove one but never the last), sign out. */
export function AccountScreen(props: Chrome & { account: Account; onChanged: (a: Account) => void; onSignOut: () => void }) {
  const { person, passkeys, session } = props.account;
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null); // kept as the refusal, worded at render in the current language
  const [done, setDone] = useState<MessageKey | null>(null);
  const only = passkeys.length <= 1;

  const work = async (job: () => Promise<void>, ok: MessageKey) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await job();
      setDone(ok);
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(false);
    }
  };

  const add = (e: Event) => {
    e.preventDefault();
    void work(async () => {
      props.onChanged({ ...props.account, passkeys: await addPasskey(label.trim() || t("account.newPasskeyDefault")) });
      setLabel("");
    }, "account.added");
  };

  const remove = (credentialId: string, name: string) => {
    if (only || !confirm(t("account.removeConfirm", { name }))) return;
    void work(async () => {
      await removePasskey(credentialId);
      props.onChanged({ ...props.account, passkeys: passkeys.filter((p) => p.credential_id !== credentialId) });
    }, "account.removed");
  };

  return (
    <main class="screen" data-screen="account">
      <Header title={t("account.title")} right={props.right} />
      {props.top}
      <section class="card">
        <p class="lead"><strong>{person.name}</strong></p>
        <p class="muted">{person.roles.map((r) => t(`role.${r as Role}`)).join(", ")}</p>
        <p class="small muted">{t("account.session", { since: when(session.created_at), until: when(session.expires_at) })}</p>
        <button type="button" class="btn" data-testid="signout" onClick={props.onSignOut}>{t("people.signout")}</button>
      </section>
      <section class="card">
        <h2>{t("account.passkeys")}</h2>
        <p class="small muted">{t("account.passkeysIntro")}</p>
        {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
        {done ? <Message kind="ok">{t(done)}</Message> : null}
        <ul class="list">
          {passkeys.map((p) => {
            const name = p.label || t("people.passkeyDefault");
            return (
              <li class="list-row" key={p.credential_id} data-testid="passkey-row">
                <div class="grow">
                  <strong class="wrap">{name}</strong>
                  <div class="small muted">{t("account.created", { when: when(p.created_at) })} · {p.last_used_at ? t("account.lastUsed", { when: when(p.last_used_at) }) : t("account.neverUsed")}</div>
                </div>
                <button type="button" class="btn btn-small" data-testid="remove-passkey" disabled={busy || only}
                  title={only ? t("account.onlyOne") : undefined} onClick={() => remove(p.credential_id, name)}>
                  {t("account.remove")}
                </button>
              </li>
            );
          })}
        </ul>
        {only ? <p class="small muted" data-testid="only-passkey">{t("account.onlyOne")}</p> : null}
        <form class="stack" onSubmit={add}>
          <label class="field">
            <span>{t("account.newPasskeyLabel")}</span>
            <input class="input" name="passkey-label" maxLength={80} placeholder={t("account.newPasskeyHint")}
              value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="btn btn-primary" data-testid="add-passkey" disabled={busy}>
            {busy ? t("people.working") : t("account.add")}
          </button>
        </form>
      </section>
    </main>
  );
}
