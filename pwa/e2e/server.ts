// Starts the real sync server (clinphoto serve) on a free port with a fresh data folder, serving
// the built app from pwa/dist; enrols devices and reads its database the way an operator would.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = new URL("../../", import.meta.url).pathname;
const CLI = join(REPO, ".venv/bin/clinphoto");
const PYTHON = join(REPO, ".venv/bin/python");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface ServerPhoto {
  id: string;
  sequence_id: string;
  view: string;
  width: number | null;
  height: number | null;
  sha256: string;
  sealed_sha256: string;
  state: string;
  patient_id: string;
}

/** base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo: what Chromium's --ignore-certificate-errors-spki-list takes. */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

/**
 * On a ward: the app at `https://<name>:<port>`. `tls`: the server terminates TLS itself (ward CA)
 * and answers its plain-HTTP page on `httpPort`; `proxy`: a TLS proxy (nginx) listens on
 * `publicPort` and the server listens plain HTTP on the loopback, believing the proxy's headers.
 */
export type Ward = { name: string; mode: "tls" } | { name: string; mode: "proxy"; publicPort: number };

export class TestServer {
  private constructor(readonly port: number, readonly dataDir: string, private proc: ChildProcess, private log: string[],
    private extraEnv: Record<string, string> = {}, readonly publicUrl?: string, readonly httpPort?: number) {}

  /** The app's origin. localhost (not 127.0.0.1): WebAuthn needs a domain as relying party id. On a ward, its public URL. */
  get origin(): string {
    return this.publicUrl ?? `http://localhost:${this.port}`;
  }

  /** The server's plain-HTTP page by name (ward, server terminating TLS). */
  get plainOrigin(): string {
    if (!this.publicUrl || !this.httpPort) throw new Error("no plain-HTTP listener");
    return `http://${new URL(this.publicUrl).hostname}:${this.httpPort}`;
  }

  /** The certificate the server presents (written under <data_dir>/tls at start). */
  serverCertificate(): string {
    return readFileSync(join(this.dataDir, "tls", "server.crt"), "utf8");
  }

  /** A server as on a ward, reached by `ward.name` (the browser maps it to 127.0.0.1). */
  static async startWard(ward: Ward, env: Record<string, string> = {}): Promise<TestServer> {
    if (ward.mode === "tls") {
      const [port, httpPort] = [await freePort(), await freePort()];
      return TestServer.start({ ...env, CLINPHOTO_PUBLIC_URL: `https://${ward.name}:${port}`, CLINPHOTO_HTTP_PORT: String(httpPort) },
        { port, httpPort, health: `http://127.0.0.1:${httpPort}/healthz` });
    }
    return TestServer.start({ ...env, CLINPHOTO_PUBLIC_URL: `https://${ward.name}:${ward.publicPort}`, CLINPHOTO_FORWARDED_ALLOW_IPS: "127.0.0.1" });
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.extraEnv, CLINPHOTO_DATA_DIR: this.dataDir, CLINPHOTO_PORT: String(this.port), CLINPHOTO_PWA_DIR: join(REPO, "pwa/dist") };
  }

  /** `env`: more CLINPHOTO_* settings, for the server and the CLI commands run against it. */
  static async start(env: Record<string, string> = {}, at: { port?: number; httpPort?: number; health?: string } = {}): Promise<TestServer> {
    const dataDir = mkdtempSync(join(tmpdir(), "clinphoto-e2e-"));
    const port = at.port ?? (await freePort());
    const log: string[] = [];
    const fullEnv = { ...process.env, ...env, CLINPHOTO_DATA_DIR: dataDir, CLINPHOTO_PORT: String(port), CLINPHOTO_HOST: "127.0.0.1", CLINPHOTO_PWA_DIR: join(REPO, "pwa/dist") };
    const proc = spawn(CLI, ["serve"], { cwd: REPO, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => log.push(String(d)));
    proc.stderr!.on("data", (d) => log.push(String(d)));
    const server = new TestServer(port, dataDir, proc, log, env, env.CLINPHOTO_PUBLIC_URL, at.httpPort);
    const health = at.health ?? `http://127.0.0.1:${port}/healthz`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited: ${log.join("")}`);
      try {
        const res = await fetch(health);
        if (res.ok) return server;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    server.stop();
    throw new Error(`server did not answer /healthz: ${log.join("")}`);
  }

  /** A one-time enrolment code (last line of `clinphoto enroll-device`). */
  enrolmentCode(label = "e2e phone"): string {
    const out = execFileSync(CLI, ["enroll-device", "--label", label], { cwd: REPO, env: this.env, encoding: "utf8" });
    const code = out.trim().split("\n").at(-1)!.trim();
    if (!/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code)) throw new Error(`unexpected enroll-device output: ${out}`);
    return code;
  }

  /** A one-time link registering another administrator (`clinphoto create-admin`), on this server's origin. */
  adminLink(name = "Administrator"): string {
    const out = execFileSync(CLI, ["create-admin", "--name", name], { cwd: REPO, env: this.env, encoding: "utf8" });
    const link = /https?:\/\/[^\s/]+\/#\/register\/[A-Za-z0-9_-]+/.exec(out)?.[0];
    if (!link) throw new Error(`unexpected create-admin output: ${out}`);
    return link.replace(/^https?:\/\/[^/]+/, this.origin);
  }

  /** A one-time link registering a person of these roles (`clinphoto invite`), on this server's origin. */
  inviteLink(name: string, roles: string[] = ["surgeon"]): string {
    const out = execFileSync(CLI, ["invite", "--name", name, ...roles.flatMap((r) => ["--role", r])], { cwd: REPO, env: this.env, encoding: "utf8" });
    const link = /https?:\/\/[^\s/]+\/#\/register\/[A-Za-z0-9_-]+/.exec(out)?.[0];
    if (!link) throw new Error(`unexpected invite output: ${out}`);
    return link.replace(/^https?:\/\/[^/]+/, this.origin);
  }

  /** The first administrator's link printed by `clinphoto serve` on first start, on this server's origin. */
  firstAdminLink(): string {
    const link = /https?:\/\/[^\s/]+\/#\/register\/[A-Za-z0-9_-]+/.exec(this.logs())?.[0];
    if (!link) throw new Error(`no administrator link in the server's output: ${this.logs()}`);
    return link.replace(/^https?:\/\/[^/]+/, this.origin);
  }

  /** Feed the hospital patient index as an operator would (`clinphoto import-patients`): each one is audited. */
  importPatients(rows: { id: string; family: string; given: string }[]): void {
    const file = join(this.dataDir, "patients.csv");
    writeFileSync(file, ["id,family,given,birth_date,sex", ...rows.map((r) => `${r.id},${r.family},${r.given},,`)].join("\n") + "\n");
    execFileSync(CLI, ["import-patients", file], { cwd: REPO, env: this.env, encoding: "utf8" });
  }

  /** `clinphoto list-devices --json`: devices (active, revoked) and enrolments awaiting confirmation (pending). */
  devices(): { id: string; state: "active" | "revoked" | "pending"; label: string }[] {
    return JSON.parse(execFileSync(CLI, ["list-devices", "--json"], { cwd: REPO, env: this.env, encoding: "utf8" }));
  }

  revoke(deviceId: string): void {
    execFileSync(CLI, ["revoke-device", deviceId], { cwd: REPO, env: this.env, encoding: "utf8" });
  }

  /** `clinphoto set-device-department`: the phone lists that department's patients of the day. */
  setDepartment(deviceId: string, department: string): void {
    execFileSync(CLI, ["set-device-department", deviceId, department], { cwd: REPO, env: this.env, encoding: "utf8" });
  }

  /**
   * What each filed sequence's form says of its patient: the identifier and whether it was confirmed.
   * Forms and identifiers are encrypted in the database: opened here with the server's own keys, as the server does.
   */
  sequencePatients(): { patient_id: string; patient_verified: boolean | null }[] {
    const code = `
import json, sqlite3, sys
from pathlib import Path
from crypto import KeyStore
from sync_server.storage.fields import PatientFields, open_form
data = Path(sys.argv[1])
keys = KeyStore.open(data / "keys")
fields = PatientFields(keys)
db = sqlite3.connect(data / "clinphoto.db")
print(json.dumps([{"patient_id": fields.open_pid(p), "patient_verified": open_form(keys, i, f).get("patient_verified")}
                  for i, p, f in db.execute("SELECT id, patient_id, form FROM sequence ORDER BY created_at")]))`;
    return JSON.parse(execFileSync(PYTHON, ["-c", code, this.dataDir], { cwd: REPO, encoding: "utf8" }));
  }

  /** Photos filed by the server, read from its database (patient identifiers opened with its keys). */
  photos(): ServerPhoto[] {
    const code = `
import json, sqlite3, sys
from pathlib import Path
from crypto import KeyStore
from sync_server.storage.fields import PatientFields
data = Path(sys.argv[1])
fields = PatientFields(KeyStore.open(data / "keys"))
db = sqlite3.connect(data / "clinphoto.db")
db.row_factory = sqlite3.Row
rows = db.execute("SELECT p.id, p.sequence_id, p.view, p.width, p.height, p.sha256, p.sealed_sha256, p.state, s.patient_id FROM photo p JOIN sequence s ON s.id = p.sequence_id").fetchall()
print(json.dumps([{**dict(r), "patient_id": fields.open_pid(r["patient_id"])} for r in rows]))`;
    return JSON.parse(execFileSync(PYTHON, ["-c", code, this.dataDir], { cwd: REPO, encoding: "utf8" }));
  }

  logs(): string {
    return this.log.join("");
  }

  stop(): void {
    this.proc.kill("SIGTERM");
  }

  cleanup(): void {
    this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
