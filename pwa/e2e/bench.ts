// `npm run bench`: capture-to-durable for a 12 MP photo in headless Chromium (median, p95), and
// the gzipped size of the app shell's JavaScript (pwa/dist, so build first).
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createServer } from "vite";
import { launch, newProfileDir } from "./browser.ts";

const PWA = new URL("../", import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function jsSize(): { raw: number; gzip: number; files: string[] } {
  const dir = join(PWA, "dist/assets");
  const files = readdirSync(dir).filter((f) => f.endsWith(".js"));
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    raw += b.length;
    gzip += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gzip, files };
}

const server = await createServer({ root: PWA, configFile: false, logLevel: "error", optimizeDeps: { entries: ["e2e/bench.html"] }, server: { port: 0, host: "127.0.0.1" }, esbuild: { jsx: "automatic", jsxImportSource: "preact" } });
await server.listen();
const port = (server.httpServer!.address() as { port: number }).port;
const profile = newProfileDir();
const ctx = await launch(profile);
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`http://localhost:${port}/e2e/bench.html`);
  await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true, undefined, { timeout: 60_000 });
  const r = await page.evaluate((n) => (window as unknown as { runBench: (n: number) => Promise<{ bytes: number; total: number[]; seal: number[]; commit: number[] }> }).runBench(n), RUNS);
  const size = jsSize();
  const result = {
    photo_bytes: r.bytes,
    runs: RUNS,
    capture_to_durable_ms: { median: +pct(r.total, 50).toFixed(1), p95: +pct(r.total, 95).toFixed(1), max: +Math.max(...r.total).toFixed(1) },
    seal_ms: { median: +pct(r.seal, 50).toFixed(1), p95: +pct(r.seal, 95).toFixed(1) },
    indexeddb_commit_ms: { median: +pct(r.commit, 50).toFixed(1), p95: +pct(r.commit, 95).toFixed(1) },
    app_js_bytes: size.raw,
    app_js_gzip_bytes: size.gzip,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`capture-to-durable 12 MP (${(r.bytes / 1e6).toFixed(1)} MB JPEG): median ${result.capture_to_durable_ms.median} ms, p95 ${result.capture_to_durable_ms.p95} ms (target p95 < 400 ms)`);
  console.log(`app shell JavaScript: ${(size.gzip / 1024).toFixed(1)} KB gzipped (target < 150 KB)`);
  const ok = result.capture_to_durable_ms.p95 < 400 && size.gzip < 150 * 1024;
  process.exitCode = ok ? 0 : 1;
} finally {
  await ctx.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
