import { t } from "../../i18n/index.ts";
import { NoticeScreen } from "../common.tsx";

// The phone's IndexedDB could not be opened: nothing can be sealed or kept, so nothing is offered
// but the way out. Photos already sealed stay where they are.
export function StartFailedScreen() {
  return (
    <NoticeScreen screen="start-failed" title={t("start.failed.title")} body={t("start.failed.body")}
      action={t("start.failed.retry")} />
  );
}
