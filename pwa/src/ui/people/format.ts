import { lang, t } from "../../i18n/index.ts";

export function when(iso: string | null): string {
  if (!iso) return t("people.never");
  return new Date(iso).toLocaleString(lang() === "fr" ? "fr-FR" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}
