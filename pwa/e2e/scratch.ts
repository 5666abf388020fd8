// What a spec starts and leaves behind (servers, browser profiles, browsers, nginx), undone in one place
// after it: each spec asks for what it needs and never writes its own clean-up.
import { rmSync } from "node:fs";
import { afterAll, afterEach } from "vitest";
import { newProfileDir } from "./browser.ts";
import { TestServer, type Ward } from "./server.ts";

export interface Scratch {
  /** A ClinPhoto server on its own data folder, stopped and removed afterwards. */
  server(env?: Record<string, string>, at?: { port?: number; httpPort?: number; health?: string }): Promise<TestServer>;
  /** The same, reached by a ward host name over HTTPS (or behind a proxy). */
  ward(ward: Ward, env?: Record<string, string>): Promise<TestServer>;
  /** A fresh browser profile folder, removed afterwards. */
  profile(): string;
  /** Anything else to undo afterwards (a browser to close, nginx to stop); undone last first. */
  defer(undo: () => unknown): void;
}

/** ``scope``: undo after the whole spec (``"spec"``, the default) or after each test (``"test"``). */
export function scratch(scope: "spec" | "test" = "spec"): Scratch {
  const undo: (() => unknown)[] = [];
  (scope === "spec" ? afterAll : afterEach)(async () => {
    while (undo.length) {
      try {
        await undo.pop()!();
      } catch (err) {
        console.warn("e2e clean-up step failed:", err); // the next steps still run
      }
    }
  });
  return {
    async server(env = {}, at = {}) {
      const server = await TestServer.start(env, at);
      undo.push(() => server.cleanup());
      return server;
    },
    async ward(ward, env = {}) {
      const server = await TestServer.startWard(ward, env);
      undo.push(() => server.cleanup());
      return server;
    },
    profile() {
      const dir = newProfileDir();
      undo.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    defer(fn) {
      undo.push(fn);
    },
  };
}
