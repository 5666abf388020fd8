import { t } from "../../i18n/index.ts";
import { Header } from "../common.tsx";

export function WipedScreen(props: { detail?: string }) {
  return (
    <main class="screen" data-screen="wiped">
      <Header title={t("wiped.title")} />
      <section class="card card-alert">
        <p class="lead">{t("wiped.body")}</p>
        {props.detail ? <p class="small">{props.detail}</p> : null}
      </section>
      <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
        {t("wiped.restart")}
      </button>
    </main>
  );
}
