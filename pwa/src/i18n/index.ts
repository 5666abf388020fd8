// Language: chosen from the browser on first start, switchable, remembered (localStorage holds
// only "en" or "fr").
import { en, fr, type MessageKey } from "./messages.ts";

export type Lang = "en" | "fr";
export type { MessageKey };
export type Labels = { en: string; fr: string };

const tables: Record<Lang, Record<MessageKey, string>> = { en, fr };
const KEY = "clinphoto.lang";

export function detectLang(languages: readonly string[] = typeof navigator === "undefined" ? [] : navigator.languages): Lang {
  for (const l of languages) {
    const base = l.toLowerCase().slice(0, 2);
    if (base === "fr" || base === "en") return base;
  }
  return "en";
}

let current: Lang = (() => {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "en" || saved === "fr") return saved;
  } catch {
    /* no storage: fall back to the browser */
  }
  return detectLang();
})();
const listeners = new Set<() => void>();

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    /* not remembered, still switched */
  }
  document.documentElement.lang = next;
  listeners.forEach((f) => f());
}

export function onLangChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function t(key: MessageKey, params: Record<string, string | number> = {}, l: Lang = current): string {
  return tables[l][key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export function label(labels: Labels | undefined, fallback = "", l: Lang = current): string {
  return labels?.[l] ?? labels?.en ?? fallback;
}

export function formatBytes(n: number, l: Lang = current): string {
  const units = l === "fr" ? ["o", "Ko", "Mo", "Go"] : ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toLocaleString(l, { maximumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
}

export function formatAge(ms: number, l: Lang = current): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  if (min < 60) return t("age.minutes", { n: min }, l);
  if (min < 48 * 60) return t("age.hours", { n: Math.round(min / 60) }, l);
  return t("age.days", { n: Math.round(min / 1440) }, l);
}

const pluralRules: Partial<Record<Lang, Intl.PluralRules>> = {};

/**
 * A counted message, by the language's plural rule (Intl.PluralRules): `${base}.one`,
 * `${base}.other`, ... (`.other` when the table has no entry for the rule). `{count}` is `n`.
 */
export function plural(base: string, n: number, params: Record<string, string | number> = {}, l: Lang = current): string {
  const rule = (pluralRules[l] ??= new Intl.PluralRules(l)).select(n);
  const key = (`${base}.${rule}` in tables[l] ? `${base}.${rule}` : `${base}.other`) as MessageKey;
  return t(key, { count: n, ...params }, l);
}

/** A calendar date (YYYY-MM-DD, as a birth date) the way the language writes it; a partial date as given. */
export function formatDate(isoDate: string, l: Lang = current): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(isoDate)) return isoDate;
  return new Intl.DateTimeFormat(l === "fr" ? "fr-FR" : "en-GB", { dateStyle: "long", timeZone: "UTC" }).format(new Date(`${isoDate}T00:00:00Z`));
}

/** A date and time the way the language writes them. */
export function formatDateTime(iso: string | number | Date, l: Lang = current): string {
  return new Intl.DateTimeFormat(l === "fr" ? "fr-FR" : "en-GB", { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}
