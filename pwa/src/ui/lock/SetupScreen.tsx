// A phone just enrolled has no one on it yet. Every photo must name the person who took it (issue 11,
// point 4), so the only way in is a person adding themselves, once and online, with their own server
// passkey; they then unlock it offline with that passkey (PRF) or their own PIN. There is no
// device-wide PIN or passkey: it would let photos be taken by no one.
import { t } from "../../i18n/index.ts";
import { Header } from "../common.tsx";

export function SetupScreen(props: { onAddPerson: () => void }) {
  return (
    <main class="screen" data-screen="setup">
      <Header title={t("setup.title")} />
      <section class="card">
        <p>{t("who.intro")}</p>
        <p>{t("setup.intro")}</p>
        <button type="button" class="btn btn-primary btn-huge" data-testid="setup-person" onClick={props.onAddPerson}>{t("who.add")}</button>
      </section>
    </main>
  );
}
