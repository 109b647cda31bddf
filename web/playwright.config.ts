import { defineConfig, devices } from "@playwright/test";

import { WEB_URL } from "./tests/support/settings";

// Browser tests against the real localnet, Kubo and app (see tests/support/stack.ts), driving
// Debian's chromium: Playwright cannot download its own browsers here.
export default defineConfig({
  testDir: "tests/e2e",
  // One chain, one set of dev accounts, two shared cores: tests run one at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    ...devices["Desktop Chrome"],
    baseURL: WEB_URL,
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    viewport: { width: 1280, height: 900 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  webServer: {
    name: "stack",
    command: "node tests/support/run-ts.mjs tests/support/stack.ts",
    url: WEB_URL,
    // The first run may start the localnet and build the app.
    timeout: 15 * 60_000,
    reuseExistingServer: !process.env.CI,
    gracefulShutdown: { signal: "SIGTERM", timeout: 60_000 },
    stdout: "pipe",
    stderr: "pipe",
  },
});
