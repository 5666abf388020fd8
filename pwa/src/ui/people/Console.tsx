// What every screen of the people's console shares: the screens a person's roles open (one
// table), the tabs between them, and the emergency-access banner while one is open.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { t, type MessageKey } from "../../i18n/index.ts";
import { BREAK_GLASS_ROLES, type Role } from "../../roles.ts";
import { remaining } from "./format.ts";

/** What PeopleApp hands each screen: the header's right side and what goes under the header. */
export type Chrome = { right: ComponentChildren; top: ComponentChildren };

/** A role, or an emergency access the person opened (it opens the clinical screens, audited as such). */
export type Grant = Role | "break_glass";

type ConsoleScreen = { hash: string; label: MessageKey; roles: readonly Grant[] | null };

/** What a person may open now: their roles, and the patients' screens while their emergency access lasts. */
export function grantsOf(roles: readonly string[], breakGlassUntil: string | null, now = Date.now()): string[] {
  return breakGlassUntil && Date.parse(breakGlassUntil) > now ? [...roles, "break_glass"] : [...roles];
}

/** In order of preference: the first one a person may open is where they land after signing in. */
export const SCREENS: readonly ConsoleScreen[] = [
  { hash: "#/patients", label: "clin.tabPatients", roles: ["surgeon", "break_glass"] },
  { hash: "#/admin", label: "admin.title", roles: ["administrator"] },
  { hash: "#/station", label: "station.title", roles: ["nurse", "administrator"] },
  { hash: "#/officer", label: "officer.tabJournal", roles: ["security_officer"] },
  { hash: "#/officer/alerts", label: "officer.alerts", roles: ["security_officer"] },
  { hash: "#/officer/restricted", label: "officer.restricted", roles: ["security_officer"] },
  { hash: "#/stats", label: "clin.tabStats", roles: ["surgeon", "administrator"] },
  { hash: "#/break-glass", label: "breakGlass.tab", roles: BREAK_GLASS_ROLES },
  { hash: "#/account", label: "account.title", roles: null },
];

export function screensFor(roles: readonly string[]): ConsoleScreen[] {
  return SCREENS.filter((s) => s.roles === null || s.roles.some((r) => roles.includes(r)));
}

/** May these roles open this hash? Entry details belong to the journal. */
export function mayOpen(roles: readonly string[], hash: string): boolean {
  const base = hash.startsWith("#/officer/entry/") ? "#/officer" : hash.startsWith("#/patients/") ? "#/patients" : hash;
  return screensFor(roles).some((s) => s.hash === base);
}

/** Where a person lands: their work screen, or their account; never straight into an emergency access. */
export function homeFor(roles: readonly string[]): string {
  return screensFor(roles).find((s) => s.hash !== "#/break-glass")!.hash;
}

export function Tabs(props: { roles: readonly string[]; hash: string }) {
  const current = props.hash.startsWith("#/officer/entry/") ? "#/officer" : props.hash.startsWith("#/patients/") ? "#/patients" : props.hash;
  return (
    <nav class="tabs" aria-label={t("people.screens")}>
      {screensFor(props.roles).map((s) => (
        <a key={s.hash} href={s.hash} class={s.hash === current ? "tab on" : "tab"} aria-current={s.hash === current ? "page" : undefined}>
          {t(s.label)}
        </a>
      ))}
    </nav>
  );
}

/** Loud while an emergency access is open; counts down and disappears when it ends. */
export function BreakGlassBanner(props: { until: string | null; onEnded: () => void }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!props.until) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [props.until]);
  const left = remaining(props.until, now);
  useEffect(() => {
    if (props.until && !left) props.onEnded();
  }, [props.until, left]);
  if (!left) return null;
  return (
    <div class="glass-banner" role="status" data-testid="break-glass-banner">
      <strong>{t("breakGlass.bannerTitle")}</strong> {t("breakGlass.bannerLeft", { left })}
    </div>
  );
}
