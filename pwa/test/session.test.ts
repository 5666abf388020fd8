import { describe, expect, it } from "vitest";
import { Session, type Clock } from "../src/session/session.ts";

/** A clock the test moves by hand. */
class ManualClock implements Clock {
  now = 0;
  private timers = new Map<number, { at: number; f: () => void }>();
  private next = 1;
  setTimeout(f: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, f });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= this.now) {
        this.timers.delete(id);
        t.f();
      }
    }
  }
}

const KEY = {} as CryptoKey;
const MIN = 60_000;
const ALICE = { id: "p-alice", name: "Dr Alice" };

describe("auto-lock", () => {
  it("locks after the chosen delay of inactivity, and activity postpones it", () => {
    const clock = new ManualClock();
    const s = new Session(5 * MIN, clock);
    s.open(KEY, ALICE);
    clock.advance(4 * MIN);
    s.touch();
    clock.advance(4 * MIN);
    expect(s.unlocked).toBe(true);
    clock.advance(1 * MIN);
    expect(s.unlocked).toBe(false);
  });

  it("never locks during a live capture, then counts the full delay from its end", () => {
    const clock = new ManualClock();
    const s = new Session(5 * MIN, clock);
    s.open(KEY, ALICE);
    const release = s.hold();
    clock.advance(60 * MIN);
    expect(s.unlocked).toBe(true);
    release();
    release(); // twice is harmless
    clock.advance(5 * MIN - 1);
    expect(s.unlocked).toBe(true);
    clock.advance(1);
    expect(s.unlocked).toBe(false);
  });

  it("applies a new delay at once", () => {
    const clock = new ManualClock();
    const s = new Session(5 * MIN, clock);
    s.open(KEY, ALICE);
    s.setLockAfter(1 * MIN);
    expect(s.lockAfter).toBe(MIN);
    clock.advance(MIN);
    expect(s.unlocked).toBe(false);
  });
});

describe("the person unlocked", () => {
  it("is the one who opened the session, and nobody once it locks (by hand or after the delay)", () => {
    const clock = new ManualClock();
    const s = new Session(5 * MIN, clock);
    expect(s.person).toBeNull();
    s.open(KEY, ALICE);
    expect(s.person).toEqual({ id: "p-alice", name: "Dr Alice" });
    s.lock();
    expect(s.person).toBeNull();
    s.open(KEY, { id: "p-bob", name: "Dr Bob" });
    expect(s.person).toEqual({ id: "p-bob", name: "Dr Bob" });
    clock.advance(5 * MIN);
    expect(s.person).toBeNull();
  });
});
