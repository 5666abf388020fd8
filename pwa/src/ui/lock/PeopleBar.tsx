// The people of this phone, on the home screen (issue 11, point 4). Locked: one big button per person;
// unlocked: who is unlocked, and a button per other person. Either way a person is two taps away: their
// name, then their passkey (the phone asks for the fingerprint or face) or their PIN.
import { useState } from "preact/hooks";
import type { PersonUnlock } from "../../crypto/keywrap.ts";
import { errorText } from "../../i18n/errors.ts";
import { t } from "../../i18n/index.ts";
import { unlockAs } from "../../session/people.ts";
import type { CurrentPerson } from "../../session/session.ts";
import { UnlockError } from "../../session/unlock.ts";
import { Message } from "../common.tsx";

export function PeopleBar(props: {
  people: PersonUnlock[];
  current: CurrentPerson | null;
  /** A PIN person was chosen: show their PIN screen. */
  onPin: (entry: PersonUnlock) => void;
  /** Someone else is about to unlock: lock first, so a cancelled passkey leaves the phone locked. */
  onSwitching: () => void;
  onUnlocked: (key: CryptoKey, entry: PersonUnlock) => void;
  onAdd?: () => void;
  /** Take the unlocked person off this phone (not the last one). */
  onRemoveMe?: () => Promise<void>;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const others = props.people.filter((p) => p.personId !== props.current?.id);

  async function choose(entry: PersonUnlock) {
    setError(null);
    props.onSwitching();
    if (entry.method === "pin") return props.onPin(entry);
    setBusy(entry.personId);
    try {
      props.onUnlocked(await unlockAs(entry), entry);
    } catch (e) {
      setError(e instanceof UnlockError && e.code === "cancelled" ? errorText("unlock_cancelled") : t("unlock.wrong"));
    } finally {
      setBusy(null);
    }
  }

  return (
    <section class="card people-bar" data-testid="people" aria-label={t("who.title")}>
      <h2>{props.current ? t("who.current", { name: props.current.name }) : t("who.title")}</h2>
      {props.current ? null : <p class="hint">{t("who.intro")}</p>}
      <ul class="people-list">
        {others.map((p) => (
          <li key={p.personId}>
            <button type="button" class={`btn ${props.current ? "" : "btn-primary btn-huge"} person-button`} data-testid="person"
              data-person-id={p.personId} data-method={p.method} disabled={busy !== null} onClick={() => void choose(p)}>
              <span class="person-name">{props.current ? t("who.switchTo", { name: p.name }) : t("who.unlockAs", { name: p.name })}</span>
              <span class="person-how">{busy === p.personId ? t("unlock.working") : p.method === "prf" ? t("who.passkeyHint") : t("who.pinHint")}</span>
            </button>
          </li>
        ))}
      </ul>
      {props.onAdd ? (
        <button type="button" class="btn" data-testid="add-person" onClick={props.onAdd}>{t("who.add")}</button>
      ) : null}
      {props.current && props.onRemoveMe && props.people.length > 1 ? (
        <button type="button" class="btn btn-quiet" data-testid="remove-me" onClick={() => {
          if (confirm(t("who.removeConfirm", { name: props.current!.name }))) void props.onRemoveMe!().catch(() => setError(errorText("io")));
        }}>{t("who.removeMe")}</button>
      ) : null}
      {error ? <Message kind="error">{error}</Message> : null}
    </section>
  );
}
