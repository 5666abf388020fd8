import { t, type MessageKey } from "../../i18n/index.ts";
import { httpsAddress, type Missing } from "../../secure.ts";
import { Header, useLang } from "../common.tsx";

const NAMES: Record<Missing, MessageKey> = {
  secure_context: "insecure.missing.secure_context",
  webcrypto: "insecure.missing.webcrypto",
  service_worker: "insecure.missing.service_worker",
};

/**
 * Shown instead of the app when the browser withholds what it needs (plain HTTP by host name):
 * how to reach the HTTPS address and trust the ward certificate. Nothing else has run: no
 * enrolment was attempted, so no code was used up.
 */
export function InsecureScreen(props: { missing: Missing[] }) {
  useLang();
  const address = httpsAddress(location);
  const host = location.hostname;
  return (
    <main class="screen" data-screen="insecure">
      <Header title={t("insecure.title")} />
      <section class="card card-alert">
        <p class="lead">{t("insecure.why")}</p>
        <p>{t("insecure.nothingLost")}</p>
      </section>
      <section class="card">
        {address ? (
          <>
            <p>{t("insecure.openThis")}</p>
            <p class="lead mono address" data-testid="https-address">{address}</p>
          </>
        ) : null}
        <ol class="steps">
          <li>{t("insecure.step.ask")}</li>
          <li>{host ? t("insecure.step.trust", { page: `http://${host}/` }) : t("insecure.step.trustNoHost")}</li>
          <li>{t("insecure.step.open")}</li>
        </ol>
      </section>
      <p class="muted small" data-testid="insecure-missing">
        {t("insecure.missing", { list: props.missing.map((m) => t(NAMES[m])).join(", ") })}
      </p>
    </main>
  );
}
