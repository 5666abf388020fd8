// The people's console, reached by URL fragment (#/signin, #/register/<token>, #/admin, #/station):
// separate from the capture app, which keeps its device state; a desk or station computer never
// becomes an enrolled device by opening it.
import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { AdminScreen } from "../admin/AdminScreen.tsx";
import { useLang } from "../common.tsx";
import { SignInScreen } from "../signin/SignInScreen.tsx";
import { StationScreen } from "../station/StationScreen.tsx";
import { signOut, whoami, type Person } from "./api.ts";

export const PEOPLE_HASH = /^#\/(signin|register\/[A-Za-z0-9_-]+|admin|station)$/;

export function isPeopleHash(hash: string = location.hash): boolean {
  return PEOPLE_HASH.test(hash);
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

export function PeopleApp() {
  useLang();
  const hash = useHash();
  const [person, setPerson] = useState<Person | null | undefined>(undefined);
  useEffect(() => void whoami().then(setPerson, () => setPerson(null)), []);

  const token = /^#\/register\/(.+)$/.exec(hash)?.[1];
  if (person === undefined) return <main class="screen" data-screen="loading" />;
  if (!person || token) {
    return <SignInScreen token={token} onSignedIn={(p) => {
      setPerson(p);
      location.hash = p.roles.includes("administrator") ? "#/admin" : p.roles.includes("nurse") ? "#/station" : "#/signin";
    }} />;
  }
  const right = (
    <button type="button" class="link" data-testid="signout" onClick={() => void signOut().finally(() => setPerson(null))}>
      {t("people.signout")}
    </button>
  );
  if (hash === "#/admin" && person.roles.includes("administrator")) return <AdminScreen right={right} />;
  if (hash === "#/station" && (person.roles.includes("nurse") || person.roles.includes("administrator"))) return <StationScreen right={right} />;
  return (
    <main class="screen" data-screen="signed-in">
      <section class="card">
        <p>{t("people.signedInAs", { name: person.name })}</p>
        <p class="muted">{person.roles.map((r) => t(`role.${r as "surgeon"}`)).join(", ")}</p>
        {right}
      </section>
    </main>
  );
}
