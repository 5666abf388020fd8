import { t } from "../../i18n/index.ts";
import { NoticeScreen } from "../common.tsx";

// The server's own message is English only; the localised body says everything the user needs.
export function WipedScreen(_props: { detail?: string }) {
  return <NoticeScreen screen="wiped" title={t("wiped.title")} body={t("wiped.body")} action={t("wiped.restart")} />;
}
