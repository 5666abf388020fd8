import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import { station, type Device } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { when } from "../people/format.ts";

/** The docking station: every active device, what it still has to send, when it last synced, what failed. */
export function StationScreen(props: Chrome) {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = () => station().then((r) => live && (setDevices(r.devices), setError(null)), () => live && setError(t("people.loadFailed")));
    void load();
    const timer = setInterval(load, 10_000);
    return () => { live = false; clearInterval(timer); };
  }, []);

  return (
    <main class="screen" data-screen="station">
      <Header title={t("station.title")} right={props.right} />
      {props.top}
      {error ? <Message kind="error">{error}</Message> : null}
      <section class="card">
        <p class="muted">{t("station.intro")}</p>
        {devices && devices.length === 0 ? <p>{t("station.none")}</p> : null}
        <ul class="list">
          {(devices ?? []).map((d) => (
            <li class="list-row" key={d.id} data-testid="station-device">
              <div>
                <strong>{d.label}</strong>
                <div class="small muted">{t("station.lastSeen", { when: when(d.last_seen_at) })} · {t("station.lastSync", { when: when(d.last_sync_at) })}</div>
                {(d.errors ?? []).map((e) => <div class="small msg-error" key={e.code}>{t("station.error", { code: e.code, count: e.count })}</div>)}
              </div>
              <span class={d.pending_batches ? "tick" : "muted"}>{t("station.pending", { count: d.pending_batches })}</span>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
