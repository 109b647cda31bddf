#!/usr/bin/env node
// Prints each route's first-load JavaScript after `next build` (Next 16 no longer prints it):
// read from .next/diagnostics/route-bundle-stats.json, with the gzip size a browser downloads.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stats = JSON.parse(readFileSync(path.join(webDir, ".next/diagnostics/route-bundle-stats.json"), "utf8"));
const gzipped = new Map();
const gzipSize = (chunk) => {
  if (!gzipped.has(chunk)) gzipped.set(chunk, gzipSync(readFileSync(path.join(webDir, chunk)), { level: 9 }).length);
  return gzipped.get(chunk);
};
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

console.log("\nFirst-load JavaScript per route (uncompressed / gzip):");
for (const { route, firstLoadUncompressedJsBytes, firstLoadChunkPaths } of stats.toSorted((a, b) => a.route.localeCompare(b.route))) {
  const gzip = firstLoadChunkPaths.reduce((sum, chunk) => sum + gzipSize(chunk), 0);
  console.log(`  ${route.padEnd(14)} ${kb(firstLoadUncompressedJsBytes).padStart(10)} / ${kb(gzip).padStart(9)}`);
}
