// The app's lint (npm run lint, in make test): no floating promise, no import cycle. These tests show
// the rules bite: a probe with a dropped promise and an import cycle fails, and the app itself passes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const PWA = new URL("../", import.meta.url).pathname;
const OXLINT = join(PWA, "node_modules", ".bin", "oxlint");

function lint(...paths: string[]): { code: number; out: string } {
  try {
    const out = execFileSync(OXLINT, ["--type-aware", "-c", join(PWA, ".oxlintrc.json"), ...paths],
      { cwd: PWA, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
    return { code: 0, out };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout + err.stderr };
  }
}

describe("app lint", () => {
  const probe = mkdtempSync(join(tmpdir(), "clinphoto-lint-"));
  afterAll(() => rmSync(probe, { recursive: true, force: true }));

  it("refuses a dropped promise and an import cycle", () => {
    writeFileSync(join(probe, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler",
        allowImportingTsExtensions: true, noEmit: true }, include: ["*.ts"] }));
    writeFileSync(join(probe, "a.ts"), 'import { b } from "./b.ts";\n'
      + "export async function a(): Promise<number> { return b(); }\nexport function run(): void { a(); }\n");
    writeFileSync(join(probe, "b.ts"), 'import { a } from "./a.ts";\nexport function b(): number { void a; return 1; }\n');
    const { code, out } = lint(probe);
    expect(code).not.toBe(0);
    expect(out).toContain("no-floating-promises");
    expect(out).toContain("no-cycle");
  }, 150_000);

  it("passes on the app, its tests and its browser tests", () => {
    const { code, out } = lint("src", "test", "e2e");
    expect(out).toMatch(/Found \d+ warnings? and 0 errors/);
    expect(code).toBe(0);
  }, 150_000);
});
