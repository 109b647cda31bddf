// The browser tests' stack, started by Playwright's webServer (which starts before any global
// setup, hence everything happens here): the private localnet + Kubo (reused when running, else
// started and stopped again at the end), task_hub v2 deployed with cosmjs, the app built once
// (skipped when its sources did not change) and served by `next start` with FEDCHAIN_* set.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

import { TestChain } from "./chain";
import { deployTaskHub, registerKeeper } from "./deploy";
import { localnet, localnetRunning } from "./python";
import { CHAIN, ENDPOINTS, KEEPER_FEED_URL, STACK_FILE, type StackInfo, wasmPath, WEB_DIR, WEB_PORT, WEB_URL } from "./settings";

const log = (message: string) => console.log(`[stack] ${message}`);

const BUILD_INPUTS = ["src", "public", "next.config.ts", "tsconfig.json", "package-lock.json"];

function inputFiles(): string[] {
  const files: string[] = [];
  const visit = (entry: string) => {
    const full = path.join(WEB_DIR, entry);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) for (const child of readdirSync(full).sort()) visit(path.join(entry, child));
    else files.push(entry);
  };
  BUILD_INPUTS.forEach(visit);
  return files;
}

/** A hash of everything `next build` reads, so an unchanged app is not built again. */
function sourceHash(files: string[]): string {
  const hash = createHash("sha256");
  for (const file of files) hash.update(file).update(readFileSync(path.join(WEB_DIR, file)));
  return hash.digest("hex");
}

/**
 * Builds the app unless the build in .next is of the current sources: its stamp (written here)
 * names their hash, or, for a build made by `npm run build`, it is newer than every source file.
 */
function buildOnce(): void {
  const buildId = path.join(WEB_DIR, ".next/BUILD_ID");
  const stamp = path.join(WEB_DIR, ".next/fedchain-source-hash");
  const files = inputFiles();
  const hash = sourceHash(files);
  if (existsSync(buildId)) {
    const stamped = existsSync(stamp) && readFileSync(stamp, "utf8") === hash;
    const newest = Math.max(...files.map((file) => statSync(path.join(WEB_DIR, file)).mtimeMs));
    if (stamped || (!existsSync(stamp) && statSync(buildId).mtimeMs > newest)) {
      writeFileSync(stamp, hash);
      log("app build is current");
      return;
    }
  }
  log("building the app (next build)");
  const build = spawnSync(process.execPath, ["node_modules/next/dist/bin/next", "build"], {
    cwd: WEB_DIR,
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (build.status !== 0) throw new Error("next build failed");
  writeFileSync(stamp, hash);
}

async function main(): Promise<void> {
  const startedLocalnet = !localnetRunning();
  if (startedLocalnet) {
    log("starting the localnet");
    localnet("up");
  } else {
    log("reusing the running localnet");
  }

  const chain = new TestChain({ ...CHAIN, rpc: ENDPOINTS.rpc, rest: ENDPOINTS.rest, contract: "" });
  const { codeId, contract } = await deployTaskHub(chain, wasmPath());
  const deployed = new TestChain({ ...CHAIN, rpc: ENDPOINTS.rpc, rest: ENDPOINTS.rest, contract });
  await registerKeeper(deployed);
  chain.disconnect();
  deployed.disconnect();
  log(`task_hub code ${codeId} instantiated at ${contract}`);

  // The keeper's live feed port (8765 + offset): the feed spec publishes there with keepers/feed.py,
  // the end-to-end spec runs the real keeper there; otherwise nothing listens and the page says so.
  const feed = process.env.FEDCHAIN_FEED ?? KEEPER_FEED_URL;
  const stack: StackInfo = {
    contract,
    codeId,
    webUrl: WEB_URL,
    rpc: ENDPOINTS.rpc,
    rest: ENDPOINTS.rest,
    kuboApi: ENDPOINTS.kuboApi,
    kuboGateway: ENDPOINTS.kuboGateway,
    ...CHAIN,
    feed,
  };
  mkdirSync(path.dirname(STACK_FILE), { recursive: true });
  writeFileSync(STACK_FILE, JSON.stringify(stack, null, 2));

  buildOnce();
  log(`serving ${WEB_URL}`);
  const server: ChildProcess = spawn(
    process.execPath,
    ["node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1", "-p", String(WEB_PORT)],
    {
      cwd: WEB_DIR,
      stdio: "inherit",
      env: {
        ...process.env,
        NEXT_TELEMETRY_DISABLED: "1",
        FEDCHAIN_CHAIN_ID: CHAIN.chainId,
        FEDCHAIN_RPC: ENDPOINTS.rpc,
        FEDCHAIN_REST: ENDPOINTS.rest,
        FEDCHAIN_CONTRACT: contract,
        FEDCHAIN_DENOM: CHAIN.denom,
        FEDCHAIN_PREFIX: CHAIN.prefix,
        FEDCHAIN_GAS_PRICE: CHAIN.gasPrice,
        FEDCHAIN_IPFS_GATEWAY: ENDPOINTS.kuboGateway,
        FEDCHAIN_IPFS_API: ENDPOINTS.kuboApi,
        ...(feed ? { FEDCHAIN_FEED: feed } : {}),
      },
    },
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${signal})`);
    if (server.exitCode === null) server.kill("SIGTERM");
    const finish = () => {
      if (startedLocalnet) {
        log("stopping the localnet this run started");
        try {
          localnet("down");
        } catch (error) {
          console.error(error);
        }
      }
      process.exit(0);
    };
    if (server.exitCode !== null) finish();
    else server.once("exit", finish);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  server.once("exit", (code) => {
    if (!stopping) {
      console.error(`[stack] next start exited with ${code}`);
      stop("SIGTERM");
    }
  });
}

main().catch((error: unknown) => {
  console.error("[stack] failed:", error);
  process.exit(1);
});
