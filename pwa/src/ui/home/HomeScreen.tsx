import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { DEFAULT_PRIOR_DAYS, PRIOR_DAYS_SETTING, prefetchToday, purgeOldPriors } from "../../capture/priors.ts";
import { fetchToday } from "../../capture/today.ts";
import { decryptJson } from "../../crypto/localkey.ts";
import { LOCK_SETTING } from "../../app.ts";
import { errorText } from "../../i18n/errors.ts";
import { formatAge, formatBytes, formatDateTime, plural, t, type MessageKey } from "../../i18n/index.ts";
import { LOCK_CHOICES_MIN, type Session } from "../../session/session.ts";
import type { PhotoRecord, SequenceRecord, Store } from "../../storage/db.ts";
import { health, type Health } from "../../storage/health.ts";
import type { SyncRunner, SyncState } from "../../sync/runner.ts";
import { Header, Message, Progress } from "../common.tsx";
import type { SequenceSummary } from "../sequence/FormScreen.tsx";

interface Row {
  seq: SequenceRecord;
  photos: PhotoRecord[];
  summary?: SequenceSummary;
}

export function HomeScreen(props: {
  store: Store; sync: SyncRunner; localKey: CryptoKey | null; updateReady: boolean;
  onNew: () => void; onLock: () => void; onOpen: (sequenceId: string) => void; onUpdate: () => void;
  /** The people of the phone (lock/PeopleBar.tsx): locked, each one's way in; unlocked, who is taking photos. */
  people: ComponentChildren;
  session?: Session;
  /** The server, to refresh the priors of today's patients (ghost overlay) once unlocked and online. */
  base?: string;
}) {
  const [rows, setRows] = useState<Row[]>([]);
  const [h, setH] = useState<Health | null>(null);
  const [sync, setSync] = useState<SyncState>(props.sync.state);
  const [, tick] = useState(0);

  async function load() {
    const seqs = await props.store.sequences();
    const photos = await props.store.photos();
    const out: Row[] = [];
    for (const seq of seqs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))) {
      const row: Row = { seq, photos: photos.filter((p) => p.sequenceId === seq.id) };
      if (props.localKey) row.summary = await decryptJson<SequenceSummary>(props.localKey, seq.summary, seq.id).catch(() => undefined);
      out.push(row);
    }
    setRows(out);
    setH(await health());
  }

  useEffect(() => {
    if (!props.localKey || !props.base || !navigator.onLine) return;
    const controller = new AbortController();
    void prefetchToday(props.store, props.base, props.localKey, controller.signal);
    // today's patients of the phone's department, kept sealed: names to confirm, offline too (kept one day)
    fetchToday(props.store, props.base, props.localKey, controller.signal, new Date(), props.session?.person?.id)
      .catch(() => 0); // offline or refused: the list kept before stays until it is a day old
    return () => controller.abort();
  }, [props.localKey]);

  useEffect(() => {
    void load();
    return props.sync.onChange(() => {
      setSync(props.sync.state);
      if (!props.sync.state.running) void load();
    });
  }, [props.localKey]);

  useEffect(() => {
    const id = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, []);

  const pending = rows.filter((r) => r.photos.length > 0);
  const photoCount = pending.reduce((n, r) => n + r.photos.length, 0);
  const oldest = pending.flatMap((r) => r.photos.map((p) => p.capturedAt)).sort()[0];
  const p = sync.progress;

  return (
    <main class="screen" data-screen="home">
      <Header
        title={props.localKey ? t("home.unlocked") : t("home.locked")}
        right={props.localKey ? <button type="button" class="link" data-testid="lock" onClick={props.onLock}>{t("common.lock")}</button> : null}
      />
      {props.updateReady && photoCount === 0 ? (
        <div class="card card-info">
          <p>{t("home.update")}</p>
          <button type="button" class="btn" onClick={props.onUpdate}>{t("home.updateNow")}</button>
        </div>
      ) : null}

      <section class="card" data-testid="outbox">
        <h2>{t("home.outbox")}</h2>
        {photoCount === 0 ? (
          <p data-testid="outbox-summary">{t("home.outboxEmpty")}</p>
        ) : (
          <p data-testid="outbox-summary" data-photos={photoCount}>
            {t("home.outboxSummary", { sequences: plural("count.sequences", pending.length), photos: plural("count.photos", photoCount), age: formatAge(Date.now() - Date.parse(oldest!)) })}
          </p>
        )}
        <button type="button" class="btn btn-sync" data-testid="sync" disabled={sync.running} onClick={() => void props.sync.run()}>
          {sync.running ? t("sync.running") : t("sync.button")}
        </button>
        {p && sync.running ? (
          <div class="sync-progress" data-testid="sync-progress">
            <p>
              {t(`sync.phase.${p.phase}` as MessageKey)} ·{" "}
              {plural("sync.batch", p.photos.filter((x) => x.state === "sent" || x.state === "had").length, { total: p.photos.length })}
            </p>
            <Progress value={p.photos.reduce((n, x) => n + x.sent, 0)} max={p.photos.reduce((n, x) => n + x.size, 0)} label={t("sync.running")} />
            <ul class="photo-progress">
              {p.photos.map((x, i) => (
                <li key={x.id}>
                  <span id={`sync-photo-${i}`}>{t("sync.photo", { n: i + 1 })}</span>
                  <Progress value={x.sent} max={x.size} labelledBy={`sync-photo-${i}`} />
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {sync.outcome && !sync.running ? (
          <Message kind="ok">{sync.outcome.photosDeleted ? plural("sync.done", sync.outcome.photosDeleted) : t("sync.nothing")}</Message>
        ) : null}
        {sync.outcome?.photosHeld && !sync.running ? (
          <div data-testid="sync-held" data-held={sync.outcome.photosHeld}><Message kind="warn">{plural("sync.held", sync.outcome.photosHeld)}</Message></div>
        ) : null}
        {sync.error && !sync.running ? (
          <Message kind="error">
            {t("sync.error", { message: errorText(sync.error.code) })}
            {sync.retryAt ? ` ${t("sync.retryIn", { seconds: Math.max(0, Math.round((sync.retryAt - Date.now()) / 1000)) })}` : ""}
          </Message>
        ) : null}
      </section>

      {props.localKey ? (
        <button type="button" class="btn btn-primary btn-huge" data-testid="new-sequence" onClick={props.onNew}>
          {t("home.newSequence")}
        </button>
      ) : null}
      {props.people}

      {rows.length ? (
        <section class="card">
          <h2>{t("home.sequences")}</h2>
          <ul class="list">
            {rows.map((r) => (
              <li key={r.seq.id} class="list-row" data-testid="sequence-row" data-photos={r.photos.length}>
                <div>
                  {r.summary ? <strong class="mono">{r.summary.patientId}</strong> : null}
                  <div class="small">
                    {t("home.sequenceLine", { time: formatDateTime(r.seq.createdAt), photos: plural("count.photos", r.photos.length) })}
                  </div>
                </div>
                {props.localKey && r.summary ? (
                  // Until synced, a sequence can be reopened: continued if open, reviewed and completed if finished.
                  <button type="button" class="btn btn-small" data-testid="open-sequence" onClick={() => props.onOpen(r.seq.id)}>
                    {r.seq.closedAt ? t("home.review") : t("home.continue")}
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {props.localKey && props.session ? <LockDelay store={props.store} session={props.session} /> : null}
      {props.localKey ? <PriorDays store={props.store} /> : null}

      {h ? (
        <section class="card" data-testid="storage">
          <p class="small" id="storage-usage">{t("storage.usage", { used: formatBytes(h.usage), quota: formatBytes(h.quota), percent: h.percent })}</p>
          <Progress value={h.usage} max={h.quota} labelledBy="storage-usage" />
          {h.warn ? <Message kind="warn">{t("storage.warn")}</Message> : null}
          {!h.persisted ? <p class="small muted">{t("storage.notPersistent")}</p> : null}
        </section>
      ) : null}
    </main>
  );
}

/** The auto-lock delay, a setting of this phone (kept in its local settings). */
function LockDelay(props: { store: Store; session: Session }) {
  const [ms, setMs] = useState(props.session.lockAfter);
  async function choose(value: number) {
    setMs(value);
    props.session.setLockAfter(value);
    await props.store.put(`setting:${LOCK_SETTING}`, value);
  }
  const choices = LOCK_CHOICES_MIN.map((m) => m * 60_000);
  if (!choices.includes(ms)) choices.push(ms);
  return (
    <section class="card" data-testid="settings">
      <label class="field">
        <span>{t("settings.lockAfter")}</span>
        <select class="input" name="lock-after" value={String(ms)} onChange={(e) => void choose(Number((e.target as HTMLSelectElement).value))}>
          {choices.map((c) => (
            <option key={c} value={String(c)}>{plural("settings.minutes", Math.round(c / 60_000))}</option>
          ))}
        </select>
      </label>
      <p class="small muted">{t("settings.lockNote")}</p>
    </section>
  );
}

const PRIOR_DAY_CHOICES = [1, 3, 7, 14, 30];

/** How long the phone keeps priors for the ghost overlay (a phone setting; shorter applies at once). */
function PriorDays(props: { store: Store }) {
  const [days, setDays] = useState(DEFAULT_PRIOR_DAYS);
  useEffect(() => {
    void props.store.setting<number>(PRIOR_DAYS_SETTING).then((d) => d && setDays(d));
  }, []);
  async function choose(value: number) {
    setDays(value);
    await props.store.put(`setting:${PRIOR_DAYS_SETTING}`, value);
    await purgeOldPriors(props.store);
  }
  const choices = PRIOR_DAY_CHOICES.includes(days) ? PRIOR_DAY_CHOICES : [...PRIOR_DAY_CHOICES, days];
  return (
    <section class="card" data-testid="prior-settings">
      <label class="field">
        <span>{t("settings.priorDays")}</span>
        <select class="input" name="prior-days" value={String(days)} onChange={(e) => void choose(Number((e.target as HTMLSelectElement).value))}>
          {choices.map((d) => (
            <option key={d} value={String(d)}>{plural("settings.days", d)}</option>
          ))}
        </select>
      </label>
      <p class="small muted">{t("settings.priorNote")}</p>
    </section>
  );
}
