// The unlocked session: the local key lives in memory only, and is dropped after inactivity.
export class Session {
  private key: CryptoKey | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listeners = new Set<() => void>();

  constructor(private lockAfterMs: number) {}

  get localKey(): CryptoKey | null {
    return this.key;
  }

  get unlocked(): boolean {
    return this.key !== null;
  }

  open(key: CryptoKey, lockAfterMs = this.lockAfterMs): void {
    this.key = key;
    this.lockAfterMs = lockAfterMs;
    this.touch();
    this.emit();
  }

  /** Any user activity keeps the session open. */
  touch(): void {
    if (!this.key) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lock(), this.lockAfterMs);
  }

  lock(): void {
    clearTimeout(this.timer);
    if (!this.key) return;
    this.key = null;
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
