import { useEffect, useState } from "preact/hooks";
import { lang, t } from "../../i18n/index.ts";
import { Header, Message, Progress } from "../common.tsx";
import type { Chrome } from "../people/Console.tsx";
import { problem, when } from "../people/format.ts";
import { requestSync, stationDevices, type StationDevice } from "./api.ts";
import { ago, counted, reason } from "./format.ts";

const REFRESH_MS = 2_000;
// A phone reports every few seconds while it is online; the server records contact at most every 30 s.
const CONNECTED_WITHIN_MS = 75_000;

/** The docking station: each phone, what it holds (counts only, never a photo), its live sync, its errors, "Sync now". */
export function StationScreen(props: Chrome) {
  const [devices, setDevices] = useState<StationDevice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asking, setAsking] = useState<Record<string, string | null>>({});
  const [now, setNow] = useState(Date.now());

  const load = () => stationDevices().then((r) => (setDevices(r.devices), setError(null), setNow(Date.now())),
    () => setError(t("people.loadFailed")));

  useEffect(() => {
    let live = true;
    const tick = () => live && void load();
    tick();
    const timer = setInterval(tick, REFRESH_MS);
    return () => { live = false; clearInterval(timer); };
  }, []);

  const syncNow = async (d: StationDevice) => {
    setAsking((a) => ({ ...a, [d.id]: null }));
    try {
      await requestSync(d.id);
      await load();
    } catch (e) {
      setAsking((a) => ({ ...a, [d.id]: t("station.askFailed", { message: problem(e) }) }));
      return;
    }
    setAsking((a) => { const { [d.id]: _, ...rest } = a; return rest; });
  };

  return (
    <main class="screen" data-screen="station">
      <Header title={t("station.title")} right={props.right} />
      {props.top}
      {error ? <Message kind="error">{error}</Message> : null}
      <section class="card">
        <p class="muted">{t("station.intro")}</p>
        {devices && devices.length === 0 ? <p>{t("station.none")}</p> : null}
        <ul class="list">
          {(devices ?? []).map((d) => {
            const connected = d.last_seen_at !== null && now - Date.parse(d.last_seen_at) < CONNECTED_WITHIN_MS;
            const syncing = d.sync_state === "syncing" && connected;
            const asked = d.sync_requested_at !== null;
            return (
              <li class="list-row list-row-wrap station-device" key={d.id} data-testid="station-device" data-device={d.id}
                data-photos={d.pending_photos ?? ""} data-state={d.sync_state ?? ""}>
                <div class="grow">
                  <strong>{d.label}</strong>{" "}
                  <span class={connected ? "badge badge-ok" : "badge badge-away"}>{connected ? t("station.connected") : t("station.away")}</span>
                  <div class="small muted">
                    {t("station.lastSeen", { when: when(d.last_seen_at) })} · {t("station.lastSync", { when: when(d.last_sync_at) })}
                  </div>
                  <p class="station-holds" data-testid="station-holds">
                    {d.pending_photos === null ? <span class="muted">{t("station.unreported")}</span>
                      : d.pending_photos === 0 && !d.pending_sequences ? t("station.empty")
                      : <>
                          <strong>{counted("station.photos", d.pending_photos)}</strong>
                          {" · "}{counted("station.sequences", d.pending_sequences ?? 0)}
                          {d.oldest_pending_at ? <> · {t("station.oldest", { age: ago(d.oldest_pending_at, now) })}</> : null}
                        </>}
                  </p>
                  {syncing && d.progress ? (
                    <div data-testid="station-progress" aria-live="polite">
                      <div class="small">{t("station.syncing", { done: d.progress.done.toLocaleString(lang()), photos: counted("station.photos", d.progress.total) })}</div>
                      <Progress value={d.progress.done} max={d.progress.total} label={t("station.syncingNamed", { label: d.label })} />
                    </div>
                  ) : null}
                  {asked && !syncing ? <div class="small" role="status">{t("station.asked")}</div> : null}
                  {d.sync_state === "error" && d.last_error_code ? (
                    <div class="small msg-error" data-testid="station-error">{t("station.lastError", { reason: reason(d.last_error_code) })}</div>
                  ) : null}
                  {(d.errors ?? []).map((e) => (
                    <div class="small msg-error" key={e.code}>{counted("station.uploadErrors", e.count, { reason: reason(e.code) })}</div>
                  ))}
                  {asking[d.id] ? <div class="small msg-error" role="alert">{asking[d.id]}</div> : null}
                </div>
                <div class="row-actions">
                  <button type="button" class="btn btn-small" data-testid="sync-now" disabled={syncing || asked || d.id in asking}
                    aria-label={t("station.syncNowNamed", { label: d.label })} onClick={() => void syncNow(d)}>
                    {t("station.syncNow")}
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      </section>
    </main>
  );
}
