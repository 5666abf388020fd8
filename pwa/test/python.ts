// Calls the project's Python crypto package, for interop tests. The worktree's .venv is part of
// the test setup (`make test` creates it): without it these tests fail, they never skip.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export const REPO = new URL("../../", import.meta.url).pathname;
export const PYTHON = `${REPO}.venv/bin/python`;

export function python(code: string, input?: string): string {
  if (!existsSync(PYTHON)) throw new Error(`interop tests need the project's Python at ${PYTHON} (make test sets it up)`);
  return execFileSync(PYTHON, ["-c", code], { cwd: REPO, input, encoding: "utf8", maxBuffer: 64 << 20 });
}
