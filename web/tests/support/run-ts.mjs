#!/usr/bin/env node
// Runs a TypeScript program with Node 20 (which cannot strip types): bundles it with esbuild
// (already a dev dependency, for the test wallet) into .cache/run-ts/, then imports it.
// Used for the test stack, which Playwright's webServer starts as a plain command.
import { buildSync } from "esbuild";
import path from "node:path";
import { pathToFileURL } from "node:url";

const entry = process.argv[2];
if (!entry) {
  console.error("usage: node tests/support/run-ts.mjs FILE.ts [args...]");
  process.exit(2);
}
const webDir = path.resolve(import.meta.dirname, "../..");
const outfile = path.join(webDir, ".cache/run-ts", `${path.basename(entry, ".ts")}.mjs`);
buildSync({
  entryPoints: [path.resolve(entry)],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  tsconfig: path.join(webDir, "tsconfig.json"),
  sourcemap: "inline",
  logLevel: "warning",
});
await import(pathToFileURL(outfile).href);
