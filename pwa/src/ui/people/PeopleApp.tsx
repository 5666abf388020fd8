// The people's console, reached by URL fragment (#/signin, #/register/<token>, #/admin, #/station,
// #/account, #/break-glass, #/officer...): separate from the capture app, which keeps its device
// state; a desk or station computer never becomes an enrolled device by opening it.
import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { AccountScreen } from "../account/AccountScreen.tsx";
import { BreakGlassScreen } from "../account/BreakGlassScreen.tsx";
import { AdminScreen } from "../admin/AdminScreen.tsx";
import { useLang } from "../common.tsx";
import type { ClinicianApp as ClinicianAppType } from "../clinician/ClinicianApp.tsx";
import type { OfficerApp as OfficerAppType } from "../officer/OfficerApp.tsx";
import { SignInScreen } from "../signin/SignInScreen.tsx";
import { StationScreen } from "../station/StationScreen.tsx";
import { account, signOut, type Account } from "./api.ts";
import { BreakGlassBanner, grantsOf, homeFor, mayOpen, Tabs, type Chrome } from "./Console.tsx";

export const PEOPLE_HASH = /^#\/(signin|register\/[A-Za-z0-9_-]+|admin|station|account|break-glass|officer(\/(alerts|restricted|entry\/[1-9][0-9]{0,15}))?|patients(\/[^/]+(\/compare)?)?|stats)$/;

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

/** The officer's screens are loaded only when an officer opens them: the shell stays small. */
function useOfficerApp(wanted: boolean): typeof OfficerAppType | null {
  const [component, setComponent] = useState<typeof OfficerAppType | null>(null);
  useEffect(() => {
    if (wanted && !component) void import("../officer/OfficerApp.tsx").then((m) => setComponent(() => m.OfficerApp));
  }, [wanted]);
  return component;
}

/** The clinicians' workspace, likewise loaded only when a surgeon (or the figures' reader) opens it. */
function useClinicianApp(wanted: boolean): typeof ClinicianAppType | null {
  const [component, setComponent] = useState<typeof ClinicianAppType | null>(null);
  useEffect(() => {
    if (wanted && !component) void import("../clinician/ClinicianApp.tsx").then((m) => setComponent(() => m.ClinicianApp));
  }, [wanted]);
  return component;
}

export function PeopleApp() {
  useLang();
  const hash = useHash();
  const [me, setMe] = useState<Account | null | undefined>(undefined);
  const reload = () => account().then(setMe, () => setMe(null));
  useEffect(() => void reload(), []);
  const OfficerApp = useOfficerApp(hash.startsWith("#/officer") && !!me?.person.roles.includes("security_officer"));
  const clinical = hash.startsWith("#/patients") || hash === "#/stats";
  const grants = me ? grantsOf(me.person.roles, me.break_glass_until) : [];
  const ClinicianApp = useClinicianApp(clinical && !!me && mayOpen(grants, hash));
  const token = /^#\/register\/(.+)$/.exec(hash)?.[1];
  const lost = !!me && !token && !mayOpen(grants, hash); // #/signin once signed in, or a screen the roles do not open
  useEffect(() => {
    if (lost && me) location.replace(`${location.pathname}${location.search}${homeFor(grants)}`);
  }, [lost]);

  if (me === undefined || lost) return <main class="screen" data-screen="loading" />;
  if (!me || token) {
    return <SignInScreen token={token} onSignedIn={async (p) => {
      if (token) location.hash = homeFor(p.roles);
      await reload();
    }} />;
  }
  const leave = () => void signOut().finally(() => setMe(null));
  const chrome: Chrome = {
    right: (
      <button type="button" class="link" data-testid="signout" onClick={leave}>
        {t("people.signout")}
      </button>
    ),
    top: (
      <>
        <BreakGlassBanner until={me.break_glass_until} onEnded={() => setMe({ ...me, break_glass_until: null })} />
        <Tabs roles={grants} hash={hash} />
      </>
    ),
  };
  if (hash === "#/admin") return <AdminScreen {...chrome} />;
  if (hash === "#/station") return <StationScreen {...chrome} />;
  if (hash === "#/account") return <AccountScreen {...chrome} right={null} account={me} onChanged={setMe} onSignOut={leave} />;
  if (hash === "#/break-glass") {
    return <BreakGlassScreen {...chrome} until={me.break_glass_until} onOpened={(until) => setMe({ ...me, break_glass_until: until })} />;
  }
  if (clinical) return ClinicianApp ? <ClinicianApp {...chrome} hash={hash} person={me.person} /> : <main class="screen" data-screen="loading" />;
  if (!OfficerApp) return <main class="screen" data-screen="loading" />;
  return <OfficerApp {...chrome} hash={hash} person={me.person} />;
}
