import { t } from "../../i18n/index.ts";
import { Header } from "../common.tsx";

// The phone's IndexedDB could not be opened: nothing can be sealed or kept, so nothing is offered
// but the way out. Photos already sealed stay where they are.
export function StartFailedScreen() {
  return (
    <main class="screen" data-screen="start-failed">
      <Header title={t("start.failed.title")} />
      <section class="card card-alert" role="alert">
        <p class="lead">{t("start.failed.body")}</p>
      </section>
      <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
        {t("start.failed.retry")}
      </button>
    </main>
  );
}
