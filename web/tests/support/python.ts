// The Python side the browser tests lean on: the repo's own localnet CLI and its test-only dev
// account mnemonics, read at run time (they are never copied into web/).
import { execFileSync } from "node:child_process";

import { LOCALNET_HOME, PORT_OFFSET, pythonPath, REPO_DIR } from "./settings";

/** The environment of every Python program the tests run: this repo's code, the tests' private localnet. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: REPO_DIR, FEDCHAIN_HOME: LOCALNET_HOME, FEDCHAIN_PORT_OFFSET: String(PORT_OFFSET), ...extra };
}

function python(args: string[], options: { inherit?: boolean; env?: Record<string, string> } = {}): string {
  try {
    return execFileSync(pythonPath(), args, {
      cwd: REPO_DIR,
      env: pythonEnv(options.env),
      encoding: "utf8",
      stdio: options.inherit ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`python ${args.slice(0, 4).join(" ")} … failed${stderr ? `:\n${stderr}` : ""}`, { cause: error });
  }
}

/** `fedchain ARGS` (the repo's CLI) against the tests' localnet; its standard output. */
export function fedchain(args: string[], env: Record<string, string> = {}): string {
  return python(["-m", "keepers.cli", ...args], { env });
}

const SHARDS = `
import sys
from pathlib import Path
from sklearn.datasets import load_digits
from client_kit.data import dirichlet_partition, write_npz
out, count = Path(sys.argv[1]), int(sys.argv[2])
digits = load_digits()
for index, rows in enumerate(dirichlet_partition(digits.target, count, alpha=1.0, seed=11), start=1):
    print(write_npz(out / f"shard-{index}", digits.data[rows], digits.target[rows]))
`;

/** Each trainer's private data: scikit-learn's digits split non-IID into `count` shards (DIR/shard-N/data.npz). */
export function writeDigitsShards(outDir: string, count: number): string[] {
  python(["-c", SHARDS, outDir, String(count)]);
  return Array.from({ length: count }, (_, index) => `${outDir}/shard-${index + 1}`);
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

const CLIENT_METRICS = `
import json, sys
from pathlib import Path
from client_kit.settings import SettingsError, settings_from_source
answers = []
for name in sys.argv[1:]:
    try:
        answers.append({"metric": settings_from_source(Path(name).read_bytes()).metric.wire()})
    except SettingsError as error:
        answers.append({"problem": str(error)})
print(json.dumps(answers))
`;

/** What the keeper reads as each client.py's metric (client_kit's settings_from_source, as on the wire), or why it cannot. */
export function keeperClientMetrics(clientFiles: string[]): ({ metric: { name: string; higher_is_better: boolean; at_most: string | null } } | { problem: string })[] {
  return JSON.parse(python(["-c", CLIENT_METRICS, ...clientFiles])) as ReturnType<typeof keeperClientMetrics>;
}

let mnemonics: Record<string, string> | null = null;

/** The localnet's dev accounts (organization, keeper, treasury, trainer1..10, validator0..3). */
export function devMnemonics(): Record<string, string> {
  mnemonics ??= JSON.parse(
    python(["-c", "import json; from chain_config.test_mnemonics import TEST_ONLY_MNEMONICS as m; print(json.dumps(m))"]),
  ) as Record<string, string>;
  return mnemonics;
}
