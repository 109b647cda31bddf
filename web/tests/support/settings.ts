// Where the browser tests' localnet, app and files live. Defaults give a private localnet
// (FEDCHAIN_HOME=<repo>/.localnet-web, ports shifted by 6000) that never collides with a
// developer's own net (offset 0), the Python suite's (1000, 2000, 3000, 4321) or the benchmarks'
// (5000, 7000-9000); every value can be overridden.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** web/, found from the working directory (the tests run both under Playwright and bundled by esbuild). */
function findWebDir(): string {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "fedchain-web") return dir;
    if (path.dirname(dir) === dir) throw new Error("run the web tests from web/ (no fedchain-web package.json above the working directory)");
  }
}

export const WEB_DIR = findWebDir();
export const REPO_DIR = path.resolve(WEB_DIR, "..");

const env = (name: string, fallback: string): string => process.env[name]?.trim() || fallback;

export const PORT_OFFSET = Number(env("FEDCHAIN_PORT_OFFSET", "6000"));
export const LOCALNET_HOME = env("FEDCHAIN_HOME", path.join(REPO_DIR, ".localnet-web"));
export const WEB_PORT = Number(env("WEB_TEST_PORT", "3210"));
export const WEB_URL = `http://127.0.0.1:${WEB_PORT}`;

/** The same port layout as chain_config.LocalnetConfig, for validator 0 and Kubo. */
export const ENDPOINTS = {
  rpc: `http://127.0.0.1:${26657 + PORT_OFFSET}`,
  rest: `http://127.0.0.1:${1317 + PORT_OFFSET}`,
  kuboApi: `http://127.0.0.1:${5001 + PORT_OFFSET}`,
  kuboGateway: `http://127.0.0.1:${5080 + PORT_OFFSET}`,
};

/** Where the tests' keeper feed listens (keepers/feed.py's LiveFeed; the keeper's default 8765, shifted). */
export const KEEPER_FEED_PORT = 8765 + PORT_OFFSET;
export const KEEPER_FEED_URL = `ws://127.0.0.1:${KEEPER_FEED_PORT}`;
/** Where the end-to-end test's keeper serves Flower (the keeper's default 9092, shifted). */
export const KEEPER_SUPERLINK_PORT = 9092 + PORT_OFFSET;

export const CHAIN = {
  chainId: "fedchain-local-1",
  denom: "ufed",
  prefix: "wasm",
  gasPrice: "0.025ufed",
};

/** The Python that runs `keepers.cli` (the repo's virtualenv, made by localnet/setup.sh). */
export function pythonPath(): string {
  const configured = process.env.FEDCHAIN_PYTHON?.trim();
  if (configured) return configured;
  const venv = path.join(REPO_DIR, ".venv/bin/python");
  if (existsSync(venv)) return venv;
  throw new Error(
    `no Python environment: expected ${venv} (bash localnet/setup.sh install) or FEDCHAIN_PYTHON pointing at one`,
  );
}

/** The task_hub v2 wasm the tests deploy: FEDCHAIN_WASM, else the repo's build artifact. */
export function wasmPath(): string {
  const wasm = env("FEDCHAIN_WASM", path.join(REPO_DIR, "cosmwasm_contracts/artifacts/task_hub.wasm"));
  if (!existsSync(wasm)) {
    throw new Error(`no contract wasm at ${wasm}: run \`bash cosmwasm_contracts/build.sh\` or set FEDCHAIN_WASM`);
  }
  return wasm;
}

/** What the running test stack wrote for the tests (contract address, endpoints). */
export const STACK_FILE = path.join(WEB_DIR, ".cache/test-stack/stack.json");

export interface StackInfo {
  contract: string;
  codeId: number;
  webUrl: string;
  rpc: string;
  rest: string;
  kuboApi: string;
  kuboGateway: string;
  chainId: string;
  denom: string;
  prefix: string;
  gasPrice: string;
  feed: string | null;
}
