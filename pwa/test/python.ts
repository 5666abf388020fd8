// Calls the project's Python crypto package, for interop tests.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export const REPO = new URL("../../", import.meta.url).pathname;
export const PYTHON = `${REPO}.venv/bin/python`;
export const havePython = existsSync(PYTHON) && existsSync(`${REPO}crypto/seal.py`);

export function python(code: string, input?: string): string {
  return execFileSync(PYTHON, ["-c", code], { cwd: REPO, input, encoding: "utf8" });
}
