// The unlocked session: the local key lives in memory only, and is dropped after inactivity.
// A live capture holds the session open: the phone never locks under a surgeon's photo. The
// clock is injectable so tests need not wait.

export interface Clock {
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const realClock: Clock = {
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** The lock delays a user may choose, in minutes. */
export const LOCK_CHOICES_MIN = [1, 2, 5, 10, 15, 30] as const;

/** The person the phone is unlocked as (issue 11, point 4): named in every sequence and photo. */
export interface CurrentPerson {
  id: string;
  name: string;
}

export class Session {
  private key: CryptoKey | null = null;
  private who: CurrentPerson | null = null;
  private timer: unknown;
  private holds = 0;
  private listeners = new Set<() => void>();

  constructor(private lockAfterMs: number, private clock: Clock = realClock) {}

  get localKey(): CryptoKey | null {
    return this.key;
  }

  /** Who unlocked the phone; null when locked. */
  get person(): CurrentPerson | null {
    return this.key ? this.who : null;
  }

  get unlocked(): boolean {
    return this.key !== null;
  }

  get lockAfter(): number {
    return this.lockAfterMs;
  }

  /** Unlocked as this person (every photo taken now names them), at the phone's lock delay. */
  open(key: CryptoKey, person: CurrentPerson, lockAfterMs = this.lockAfterMs): void {
    this.key = key;
    this.who = person;
    this.lockAfterMs = lockAfterMs;
    this.touch();
    this.emit();
  }

  /** The inactivity delay (a phone setting); the running countdown restarts with it. */
  setLockAfter(ms: number): void {
    this.lockAfterMs = ms;
    this.touch();
  }

  /** Any user activity keeps the session open. */
  touch(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.key || this.holds > 0) return;
    this.timer = this.clock.setTimeout(() => this.lock(), this.lockAfterMs);
  }

  /**
   * Keep the session open while something live needs it (the camera during a capture): no
   * auto-lock until the returned release is called; the countdown then starts afresh.
   */
  hold(): () => void {
    this.holds++;
    this.touch();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.touch();
    };
  }

  lock(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.key) return;
    this.key = null;
    this.who = null;
    this.emit();
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(): void {
    this.listeners.forEach((f) => f());
  }
}
