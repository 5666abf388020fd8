// Sync by itself: when the network returns, when the page comes back into view, when the docking
// station asks. A heartbeat tells the station what this phone holds (counts only, never a patient
// identifier) and reads back whether a nurse pressed "Sync now". The single SyncRunner does the
// work, so two syncs never run at once; sealed photos need no unlock, so a locked phone syncs too.
import type { Store } from "../storage/db.ts";
import { SyncError } from "./protocol.ts";
import type { SyncRunner, SyncState } from "./runner.ts";
import { callJson } from "./transport.ts";

export interface Holding {
  pending_photos: number;
  pending_sequences: number;
  oldest_pending_at: string | null;
}

/** The body of PUT /api/v1/devices/me/status. */
export interface DeviceStatus extends Holding {
  sync_state: "idle" | "syncing" | "error";
  progress: { done: number; total: number } | null;
  last_error_code: string | null;
}

export async function holding(store: Store): Promise<Holding> {
  const photos = await store.photos();
  const sequences = await store.sequences();
  const oldest = photos.reduce<string | null>((min, p) => (min === null || p.capturedAt < min ? p.capturedAt : min), null);
  return { pending_photos: photos.length, pending_sequences: sequences.length, oldest_pending_at: photos.length ? oldest : null };
}

const CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** What the station is told: counts, state, progress, and the last error as a stable code. */
export function statusReport(held: Holding, state: SyncState): DeviceStatus {
  const code = state.error ? (CODE.test(state.error.code) ? state.error.code : "http_error") : null;
  const syncState = state.running ? "syncing" : state.error ? "error" : "idle";
  const total = state.total;
  return {
    ...held,
    sync_state: syncState,
    progress: state.running && total !== undefined ? { done: Math.min(state.done ?? 0, total), total } : null,
    last_error_code: syncState === "error" ? code : null,
  };
}

export interface AutoSyncOptions {
  /** Heartbeat while the page is visible and online. */
  everyMs?: number;
  /** Longest wait between heartbeats while the server cannot be reached (back-off doubles up to it). */
  maxBackoffMs?: number;
  win?: Window;
}

export class AutoSync {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private reachable: boolean | undefined;
  private beating: Promise<void> | undefined;
  private again = false;
  private lastTick = 0;
  private stopped = false;
  private readonly everyMs: number;
  private readonly maxBackoffMs: number;
  private readonly win: Window;

  constructor(private store: Store, private runner: SyncRunner, private base: string, opts: AutoSyncOptions = {}) {
    this.everyMs = opts.everyMs ?? 3_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.win = opts.win ?? window;
  }

  /** Starts listening; answers the function that stops everything. */
  start(): () => void {
    const online = () => {
      this.failures = 0;
      void this.syncIfPending();
      this.beatSoon(0);
    };
    const visible = () => {
      if (this.win.document.visibilityState !== "visible") return;
      void this.syncIfPending();
      this.beatSoon(0);
    };
    this.win.addEventListener("online", online);
    this.win.document.addEventListener("visibilitychange", visible);
    const unlisten = this.runner.onChange(() => {
      // State changes are reported at once; progress ticks at most once a second.
      const s = this.runner.state;
      const tick = s.running && s.progress !== undefined;
      if (!tick || Date.now() - this.lastTick > 1_000) {
        if (tick) this.lastTick = Date.now();
        this.beatSoon(0);
      }
    });
    this.beatSoon(0);
    return () => {
      this.stopped = true;
      clearTimeout(this.timer);
      this.win.removeEventListener("online", online);
      this.win.document.removeEventListener("visibilitychange", visible);
      unlisten();
    };
  }

  private async syncIfPending(): Promise<void> {
    if (this.runner.state.running || !(await this.store.device())) return;
    if ((await this.store.photos()).length) void this.runner.run();
  }

  private beatSoon(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.beat(), delayMs);
  }

  private async beat(): Promise<void> {
    if (this.beating) {
      this.again = true; // one report at a time; the latest state follows right after
      return this.beating;
    }
    this.beating = this.report().finally(() => {
      this.beating = undefined;
      if (this.again) {
        this.again = false;
        this.beatSoon(0);
      }
    });
    return this.beating;
  }

  private async report(): Promise<void> {
    let next = this.everyMs;
    try {
      const device = await this.store.device();
      if (!device) return;
      if (this.win.navigator.onLine === false) {
        this.reachable = false;
        return; // the "online" event wakes us
      }
      const body = statusReport(await holding(this.store), this.runner.state);
      const answer = await callJson<{ sync_requested?: boolean }>(this.base, device.credential, "PUT", "/api/v1/devices/me/status", body);
      const regained = this.reachable === false;
      this.reachable = true;
      this.failures = 0;
      if (answer.body?.sync_requested) void this.runner.run();
      else if (regained && body.pending_photos > 0) void this.runner.run(); // the network came back
    } catch (e) {
      const err = e instanceof SyncError ? e : undefined;
      if (err?.wipe) {
        return; // the transport's revocation handler has already had the runner wipe the phone
      }
      this.reachable = false;
      next = Math.min(this.maxBackoffMs, this.everyMs * 2 ** ++this.failures);
    } finally {
      if (this.win.document.visibilityState === "hidden") next = Math.max(next, 30_000);
      this.beatSoon(next);
    }
  }
}
