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
}

export class SyncRunner {
  state: SyncState = { running: false };
  private listeners = new Set<() => void>();
  private controller: AbortController | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

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
    this.set({ running: true, error: undefined, outcome: undefined, progress: undefined, retryAt: undefined });
    try {
      const device = await this.store.device();
      if (!isConfirmed(device)) throw new SyncError("not_enrolled", "This phone is not enrolled.", false);
      const outcome = await syncAll(this.store, new HttpTransport(this.base, device.credential), {
        signal: this.controller.signal,
        onProgress: (progress) => this.set({ progress }),
      });
      this.attempt = 0;
      this.set({ running: false, outcome });
    } catch (e) {
      const err = e instanceof SyncError ? e : new SyncError("http_error", String((e as Error)?.message ?? e), true);
      if (err.wipe) {
        this.set({ running: false, error: err });
        this.onWipe(err);
        return;
      }
      const retryAt = err.retryable ? Date.now() + retryDelayMs(this.attempt++) : undefined;
      this.set({ running: false, error: err, retryAt });
      if (retryAt) this.retryTimer = setTimeout(() => void this.run(), retryAt - Date.now());
    }
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
  }
}
