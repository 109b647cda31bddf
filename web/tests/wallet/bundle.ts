// Bundles the test wallet for the browser once per test process (esbuild, IIFE) and builds the
// init script that installs it with one account's mnemonic.
import { buildSync } from "esbuild";
import path from "node:path";

import { WEB_DIR } from "../support/settings";
import { type TestWalletOptions } from "./test-keplr";

let bundled: string | null = null;

function walletBundle(): string {
  bundled ??= buildSync({
    entryPoints: [path.join(WEB_DIR, "tests/wallet/test-keplr.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    tsconfig: path.join(WEB_DIR, "tsconfig.json"),
    logLevel: "warning",
  }).outputFiles[0]!.text;
  return bundled;
}

/** The script for `page.addInitScript`: options first, then the wallet that reads them. */
export function testWalletScript(options: TestWalletOptions): string {
  return `window.__testWalletOptions = ${JSON.stringify(options)};\n${walletBundle()}`;
}
