import { t } from "../../i18n/index.ts";
import { Header } from "../common.tsx";

// The server's own message is English only; the localised body says everything the user needs.
export function WipedScreen(_props: { detail?: string }) {
  return (
    <main class="screen" data-screen="wiped">
      <Header title={t("wiped.title")} />
      <section class="card card-alert">
        <p class="lead">{t("wiped.body")}</p>
      </section>
      <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
        {t("wiped.restart")}
      </button>
    </main>
  );
}
