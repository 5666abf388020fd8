import { defineConfig } from "vitest/config";

// End-to-end: real Chromium, real server. One file at a time; generous timeouts.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    testTimeout: 240_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
