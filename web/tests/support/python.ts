// The Python side the browser tests lean on: the repo's own localnet CLI and its test-only dev
// account mnemonics, read at run time (they are never copied into web/).
import { execFileSync } from "node:child_process";

import { LOCALNET_HOME, PORT_OFFSET, pythonPath, REPO_DIR } from "./settings";

function python(args: string[], options: { inherit?: boolean } = {}): string {
  return execFileSync(pythonPath(), args, {
    cwd: REPO_DIR,
    env: { ...process.env, PYTHONPATH: REPO_DIR, FEDCHAIN_HOME: LOCALNET_HOME, FEDCHAIN_PORT_OFFSET: String(PORT_OFFSET) },
    encoding: "utf8",
    stdio: options.inherit ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** `fedchain localnet VERB` for the tests' private net. */
export function localnet(verb: "up" | "down" | "status", ...args: string[]): string {
  return python(["-m", "keepers.cli", "localnet", verb, ...args], { inherit: verb !== "status" });
}

export function localnetRunning(): boolean {
  try {
    const status = JSON.parse(localnet("status", "--json")) as { nodes?: { running: boolean }[] };
    return (status.nodes ?? []).some((node) => node.running);
  } catch {
    return false;
  }
}

let mnemonics: Record<string, string> | null = null;

/** The localnet's dev accounts (organization, keeper, treasury, trainer1..10, validator0..3). */
export function devMnemonics(): Record<string, string> {
  mnemonics ??= JSON.parse(
    python(["-c", "import json; from chain_config.test_mnemonics import TEST_ONLY_MNEMONICS as m; print(json.dumps(m))"]),
  ) as Record<string, string>;
  return mnemonics;
}
