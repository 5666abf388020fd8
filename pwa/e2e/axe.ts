// axe-core, injected into the page: accessibility violations of the screen as it is now.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

// Evaluated through the DevTools protocol: the app's CSP (rightly) refuses an injected <script>.
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface Violation {
  id: string;
  impact: string | null;
  nodes: string[];
}

export async function axeViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] }> } }).axe;
    const res = await axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

/** Violations of the current screen in both languages, keyed "<screen>/<lang>". */
export async function axeBothLanguages(page: Page, screen: string): Promise<Record<string, Violation[]>> {
  const out: Record<string, Violation[]> = {};
  for (let i = 0; i < 2; i++) {
    const l = await page.evaluate(() => document.documentElement.lang);
    out[`${screen}/${l}`] = await axeViolations(page);
    await page.click('[data-testid="lang"]');
    await page.waitForFunction((x) => document.documentElement.lang !== x, l);
  }
  return out;
}
