// A real nginx terminating TLS in front of the server, configured from the repository's
// deploy/nginx.conf (the file a hospital installs), run as the current user with temporary paths.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./server.ts";

export const NGINX = process.env.CLINPHOTO_NGINX ?? "/usr/sbin/nginx";
const TEMPLATE = join(REPO, "deploy/nginx.conf");

/** deploy/nginx.conf with the test's name, ports and certificate; each replaced line must exist. */
export function renderSite(opts: { name: string; port: number; httpPort: number; upstreamPort: number; cert: string; key: string }): string {
  const replacements: [string | RegExp, string][] = [
    [/clinphoto\.hopital\.example/g, opts.name],
    ["server 127.0.0.1:8000;", `server 127.0.0.1:${opts.upstreamPort};`],
    ["listen 443 ssl http2;", `listen 127.0.0.1:${opts.port} ssl http2;`],
    ["listen [::]:443 ssl http2;\n", ""],
    ["listen 80;", `listen 127.0.0.1:${opts.httpPort};`],
    ["listen [::]:80;\n", ""],
    ["/etc/ssl/clinphoto/fullchain.pem", opts.cert],
    ["/etc/ssl/clinphoto/privkey.pem", opts.key],
  ];
  let site = readFileSync(TEMPLATE, "utf8");
  for (const [from, to] of replacements) {
    const next = site.replace(from, to);
    if (next === site) throw new Error(`deploy/nginx.conf no longer contains ${String(from)}: update e2e/nginx.ts`);
    site = next;
  }
  return site;
}

/** A certificate for `name` made with openssl (self-signed, P-256), as a hospital PKI would issue. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, "fullchain.pem");
  const key = join(dir, "privkey.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`, "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  return { cert, key };
}

async function listening(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => { s.end(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx is not listening on ${port}`);
}

export class Nginx {
  private constructor(readonly dir: string, private proc: ChildProcess, readonly certificate: string, private errors: string) {}

  static async start(opts: { name: string; port: number; httpPort: number; upstreamPort: number }): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), "clinphoto-nginx-"));
    const { cert, key } = makeCertificate(dir, opts.name);
    writeFileSync(join(dir, "clinphoto.conf"), renderSite({ ...opts, cert, key }));
    const errorLog = join(dir, "error.log");
    const asRoot = process.getuid?.() === 0;
    writeFileSync(join(dir, "nginx.conf"), [
      asRoot ? "user root root;" : "", // as root the workers would drop to nobody, who cannot read the temp folder
      "daemon off;", "worker_processes 1;", `pid ${join(dir, "nginx.pid")};`, `error_log ${errorLog} warn;`,
      "events { worker_connections 256; }",
      "http {",
      `  access_log ${join(dir, "access.log")};`,
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((k) => `  ${k}_temp_path ${join(dir, `${k}_temp`)};`),
      `  include ${join(dir, "clinphoto.conf")};`,
      "}",
    ].join("\n"));
    const proc = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", errorLog], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr!.on("data", (d) => (stderr += String(d)));
    const nginx = new Nginx(dir, proc, readFileSync(cert, "utf8"), errorLog);
    try {
      await listening(opts.port, Date.now() + 15_000);
    } catch (e) {
      nginx.stop();
      throw new Error(`${(e as Error).message}: ${stderr} ${nginx.errorLog()}`);
    }
    return nginx;
  }

  errorLog(): string {
    try {
      return readFileSync(this.errors, "utf8");
    } catch {
      return "";
    }
  }

  accessLog(): string {
    return readFileSync(join(this.dir, "access.log"), "utf8");
  }

  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill("SIGTERM");
  }

  cleanup(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
