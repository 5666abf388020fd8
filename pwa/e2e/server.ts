// Starts the real sync server (clinphoto serve) on a free port with a fresh data folder, serving
// the built app from pwa/dist; enrols devices and reads its database the way an operator would.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = new URL("../../", import.meta.url).pathname;
const CLI = join(REPO, ".venv/bin/clinphoto");
const PYTHON = join(REPO, ".venv/bin/python");

async function freePort(): Promise<number> {
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

export class TestServer {
  private constructor(readonly port: number, readonly dataDir: string, private proc: ChildProcess, private log: string[],
    private extraEnv: Record<string, string> = {}) {}

  /** The app's origin. localhost (not 127.0.0.1): WebAuthn needs a domain as relying party id. */
  get origin(): string {
    return `http://localhost:${this.port}`;
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.extraEnv, CLINPHOTO_DATA_DIR: this.dataDir, CLINPHOTO_PORT: String(this.port), CLINPHOTO_PWA_DIR: join(REPO, "pwa/dist") };
  }

  /** `env`: more CLINPHOTO_* settings, for the server and the CLI commands run against it. */
  static async start(env: Record<string, string> = {}): Promise<TestServer> {
    const dataDir = mkdtempSync(join(tmpdir(), "clinphoto-e2e-"));
    const port = await freePort();
    const log: string[] = [];
    const fullEnv = { ...process.env, ...env, CLINPHOTO_DATA_DIR: dataDir, CLINPHOTO_PORT: String(port), CLINPHOTO_HOST: "127.0.0.1", CLINPHOTO_PWA_DIR: join(REPO, "pwa/dist") };
    const proc = spawn(CLI, ["serve"], { cwd: REPO, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => log.push(String(d)));
    proc.stderr!.on("data", (d) => log.push(String(d)));
    const server = new TestServer(port, dataDir, proc, log, env);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited: ${log.join("")}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
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

  /** Feed the hospital patient index as an operator would (`clinphoto import-patients`): each one is audited. */
  importPatients(rows: { id: string; family: string; given: string }[]): void {
    const file = join(this.dataDir, "patients.csv");
    writeFileSync(file, ["id,family,given,birth_date,sex", ...rows.map((r) => `${r.id},${r.family},${r.given},,`)].join("\n") + "\n");
    execFileSync(CLI, ["import-patients", file], { cwd: REPO, env: this.env, encoding: "utf8" });
  }

  revoke(deviceId: string): void {
    execFileSync(CLI, ["revoke-device", deviceId], { cwd: REPO, env: this.env, encoding: "utf8" });
  }

  /** Photos filed by the server, read from its database. */
  photos(): ServerPhoto[] {
    const code = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
rows = db.execute("SELECT p.id, p.sequence_id, p.view, p.width, p.height, p.sha256, p.sealed_sha256, p.state, s.patient_id FROM photo p JOIN sequence s ON s.id = p.sequence_id").fetchall()
print(json.dumps([dict(r) for r in rows]))`;
    return JSON.parse(execFileSync(PYTHON, ["-c", code, join(this.dataDir, "clinphoto.db")], { encoding: "utf8" }));
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
