// Limits on PIN guessing. A PIN is short, so wrong guesses are counted on the phone: after 5 the
// phone makes the user wait (30 s, doubling), after 10 it forgets its unlock key and previews.
// What it forgets is only what the PIN protects: the wrapped local key (hence every preview and
// patient summary, which become unreadable) and the previews themselves. Sealed photos and
// sealed forms stay: they are sealed to the hospital key, the PIN never protected them, and a
// nurse can still sync them; so nothing unsynced is lost. Pure: time comes in as an argument.

export interface PinGuard {
  failures: number;
  waitUntil?: number; // epoch ms
}

export const WAIT_AFTER = 5;
export const FORGET_AFTER = 10;
const FIRST_WAIT_MS = 30_000;

export type PinVerdict =
  | { kind: "ok" } // may try
  | { kind: "wait"; ms: number }; // must wait before the next try

/** May the user type a PIN now? */
export function mayTry(guard: PinGuard, now: number): PinVerdict {
  const left = (guard.waitUntil ?? 0) - now;
  return left > 0 ? { kind: "wait", ms: left } : { kind: "ok" };
}

/** After a wrong PIN: the new guard, and whether the phone must now forget its key. */
export function afterFailure(guard: PinGuard, now: number): { guard: PinGuard; forget: boolean; attemptsLeft: number } {
  const failures = guard.failures + 1;
  const next: PinGuard = { failures };
  if (failures >= WAIT_AFTER && failures < FORGET_AFTER) next.waitUntil = now + FIRST_WAIT_MS * 2 ** (failures - WAIT_AFTER);
  return { guard: next, forget: failures >= FORGET_AFTER, attemptsLeft: Math.max(0, FORGET_AFTER - failures) };
}
