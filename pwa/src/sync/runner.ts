// The "Sync" action as the UI sees it: one run at a time, progress, errors in words, automatic
// retry with back-off for failures that may pass (Wi-Fi, server busy), and remote wipe.
import { isConfirmed, type Store } from "../storage/db.ts";
import { syncAll, type SyncOutcome, type SyncProgress } from "./engine.ts";
import { retryDelayMs, SyncError } from "./protocol.ts";
import { HttpTransport } from "./transport.ts";

export interface SyncState {
  running: boolean;
  progress?: SyncProgress;
  outcome?: SyncOutcome;
  error?: SyncError;
  retryAt?: number;
  /** Photos this run settled or sent so far, of the photos waiting when it started (the station shows it). */
  done?: number;
  total?: number;
}

export class SyncRunner {
  state: SyncState = { running: false };
  private listeners = new Set<() => void>();
  private controller: AbortController | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private wiping = false;

  constructor(private store: Store, private base: string, private onWipe: (reason: SyncError) => void) {}

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private set(next: Partial<SyncState>): void {
    this.state = { ...this.state, ...next };
    this.listeners.forEach((f) => f());
  }

  async run(): Promise<void> {
    if (this.state.running) return;
    clearTimeout(this.retryTimer);
    this.controller = new AbortController();
    this.set({ running: true, error: undefined, outcome: undefined, progress: undefined, retryAt: undefined, done: 0, total: undefined });
    try {
      const device = await this.store.device();
      if (!isConfirmed(device)) throw new SyncError("not_enrolled", "This phone is not enrolled.", false);
      const total = (await this.store.photos()).length;
      let settled = 0;
      this.set({ total });
      const outcome = await syncAll(this.store, new HttpTransport(this.base, device.credential), {
        signal: this.controller.signal,
        onProgress: (progress) => {
          const inBatch = progress.photos.filter((p) => p.state === "sent" || p.state === "had").length;
          if (progress.phase === "done") settled += progress.photos.length;
          const done = Math.min(total, progress.phase === "done" ? settled : settled + inBatch);
          this.set({ progress, done });
        },
      });
      this.attempt = 0;
      this.set({ running: false, outcome });
    } catch (e) {
      const err = e instanceof SyncError ? e : new SyncError("http_error", String((e as Error)?.message ?? e), true);
      if (err.wipe) {
        this.revoked(err);
        return;
      }
      const retryAt = err.retryable ? Date.now() + retryDelayMs(this.attempt++) : undefined;
      this.set({ running: false, error: err, retryAt });
      if (retryAt) this.retryTimer = setTimeout(() => void this.run(), retryAt - Date.now());
    }
  }

  /** A device call was refused because this phone is revoked (the browser may already have cleared its
   *  storage on the answer's Clear-Site-Data): wipe at once, whichever call met the refusal. */
  revoked(err: SyncError): void {
    if (this.wiping) return;
    this.wiping = true;
    this.stop();
    this.set({ running: false, error: err });
    this.onWipe(err);
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
  }
}
