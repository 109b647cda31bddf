// Chain states the tests start from, made with cosmjs as the organization, the keeper and
// trainers would make them: real pinned files, real stakes, rounds with well-formed (made-up)
// model CIDs and digests, slashes carrying the trainer's own ADR-036 signature.
import { createHash, randomBytes } from "node:crypto";

import { makeSignDoc, Secp256k1HdWallet } from "@cosmjs/amino";
import { toBase64, toUtf8 } from "@cosmjs/encoding";

import { type CreateTaskMsg, type ExecuteMsg, type SlashReason, type TaskResponse } from "@/lib/contract/types";

import { type TestAccount, type TestChain } from "./chain";
import { TEST_KEEPER_FEE_BPS } from "./deploy";

export const sha256Hex = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");

/** A task metric as client.py's settings hold it (`at_most` a JSON number, or null). */
export interface SettingsMetric {
  name: string;
  higher_is_better: boolean;
  at_most: number | null;
}

export const ACCURACY_SETTINGS: SettingsMetric = { name: "accuracy", higher_is_better: true, at_most: 1 };
export const MSE_SETTINGS: SettingsMetric = { name: "mse", higher_is_better: false, at_most: null };

/** A JSON number as Python's json.dumps writes a float (`1.0`, `0.5`). */
const pyFloat = (value: number): string => (Number.isInteger(value) ? `${value}.0` : String(value));

/**
 * What an example client.py says about its metric: one in its settings, `null`, no `metric` key
 * (clients older than metrics), or no SETTINGS at all (a file the keeper and the form refuse).
 */
export type ExampleMetric = SettingsMetric | null | "no metric key" | "no SETTINGS";

/** The settings JSON exactly as `ClientSettings.to_json()` renders it (sorted keys, indent 2, floats as Python writes them). */
export function exampleSettingsJson(label: string, metric: Exclude<ExampleMetric, "no SETTINGS"> = ACCURACY_SETTINGS): string {
  const metricLines =
    metric === "no metric key"
      ? ""
      : metric === null
        ? '  "metric": null,\n'
        : `  "metric": {\n    "at_most": ${metric.at_most === null ? "null" : pyFloat(metric.at_most)},\n` +
          `    "higher_is_better": ${metric.higher_is_better},\n    "name": ${JSON.stringify(metric.name)}\n  },\n`;
  return (
    `{\n  "batch_size": 32,\n  "chain_id": "fedchain-local-1",\n  "classes": 10,\n  "contract": "wasm1web-test",\n` +
    `  "epochs": 1,\n  "flower": null,\n  "input_scale": 16.0,\n  "input_shape": [\n    64\n  ],\n  "learning_rate": 0.1,\n` +
    `${metricLines}  "model": {},\n  "model_name": ${JSON.stringify(label)},\n` +
    `  "objective": ${JSON.stringify(typeof metric === "object" && metric && !metric.higher_is_better ? "regression" : "classification")},\n  "prefix": "wasm",\n` +
    `  "runtime": "fedchain>=0.1",\n  "standardize": null,\n  "template": "numpy"\n}`
  );
}

/**
 * A small client.py, different each call (so each task has its own CID), embedding its settings as
 * the builder renders them (`SETTINGS = ClientSettings.from_json(r"""…""")`), naming `metric`.
 */
export function exampleClientPy(label = randomBytes(4).toString("hex"), metric: ExampleMetric = ACCURACY_SETTINGS): Buffer {
  const settings =
    metric === "no SETTINGS" ? "" : `SETTINGS = ClientSettings.from_json(\n    r"""\n${exampleSettingsJson(label, metric)}\n"""\n)\n\n\n`;
  return Buffer.from(
    `"""fedchain test client ${label}: rendered for the web tests, never run."""\n\nfrom client_kit.settings import ClientSettings\n\n` +
      `TASK_LABEL = ${JSON.stringify(label)}\n\n${settings}` +
      `def main() -> None:\n    print("client.py for", TASK_LABEL)\n\n\nif __name__ == "__main__":\n    main()\n`,
  );
}

/** A valid safetensors file with one float32 tensor `w` of shape [2]. */
export function exampleModel(): Buffer {
  let header = JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } });
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(8);
  data.writeFloatLE(0.5, 0);
  data.writeFloatLE(-0.25, 4);
  return Buffer.concat([length, Buffer.from(header), data]);
}

/** Pins bytes to the localnet's Kubo (CIDv1) and returns the CID. */
export async function pin(kuboApi: string, bytes: Uint8Array, name = "file"): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  const response = await fetch(`${kuboApi}/api/v0/add?cid-version=1&pin=true`, { method: "POST", body: form });
  if (!response.ok) throw new Error(`kubo add failed: ${await response.text()}`);
  return ((await response.json()) as { Hash: string }).Hash;
}

/** A made-up but well-formed CIDv1 (raw, sha256) for a round's model or a slash's evidence. */
export async function fakeCid(kuboApi: string, seed: string): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([seed]), "seed");
  const response = await fetch(`${kuboApi}/api/v0/add?cid-version=1&only-hash=true`, { method: "POST", body: form });
  return ((await response.json()) as { Hash: string }).Hash;
}

export async function ensureRegistered(chain: TestChain, account: TestAccount, roles: { organization: boolean; trainer: boolean }) {
  const profile = await chain.reader.profile(account.address);
  const wanted = {
    organization: roles.organization || (profile?.is_organization ?? false),
    trainer: roles.trainer || (profile?.is_trainer ?? false),
  };
  if (profile && profile.is_organization === wanted.organization && profile.is_trainer === wanted.trainer) return;
  await chain.execute(account, { register: { name: profile?.name ?? account.name, ...wanted } });
}

export interface TaskSetup {
  organization?: TestAccount;
  terms?: Partial<CreateTaskMsg>;
  pool?: bigint;
  /** client.py bytes to pin; the chain gets their sha256 unless `clientSha256` says otherwise. */
  client?: Uint8Array;
  clientSha256?: string;
}

/** Creates and funds a task as the organization (dev account by default); returns its id. */
export async function createTask(chain: TestChain, kuboApi: string, setup: TaskSetup = {}): Promise<number> {
  const organization = setup.organization ?? (await chain.dev("organization"));
  const keeper = await chain.dev("keeper");
  await ensureRegistered(chain, organization, { organization: true, trainer: false });
  const client = setup.client ?? exampleClientPy();
  const model = exampleModel();
  const now = await chain.blockTime();
  const terms: CreateTaskMsg = {
    model_name: "digits-mlp",
    description: "Handwritten digits, 8x8, a small MLP (web test task)",
    client_cid: await pin(kuboApi, client, "client.py"),
    client_sha256: setup.clientSha256 ?? sha256Hex(client),
    initial_model_cid: await pin(kuboApi, model, "initial_model.safetensors"),
    initial_model_sha256: sha256Hex(model),
    rounds: 3,
    min_trainers: 1,
    max_trainers: 2,
    stake: "5000000",
    join_deadline: now + 3600,
    training_deadline: now + 7200,
    keeper: keeper.address,
    keeper_bond: "10000000",
    max_keeper_fee_bps: TEST_KEEPER_FEE_BPS,
    no_show_penalty_bps: 1000,
    slash_bps: 5000,
    max_examples_per_trainer: 10_000,
    max_update_norm: "50",
    round_timeout_secs: 120,
    ...setup.terms,
  };
  const result = await chain.execute(organization, { create_task: terms }, [
    { denom: chain.stack.denom, amount: (setup.pool ?? 100_000_000n).toString() },
  ]);
  const created = result.events
    .filter((event) => event.type === "wasm")
    .flatMap((event) => event.attributes)
    .find((attribute) => attribute.key === "task_id");
  if (!created) throw new Error("create_task emitted no task_id");
  return Number(created.value);
}

export async function acceptTask(chain: TestChain, taskId: number): Promise<void> {
  const keeper = await chain.dev("keeper");
  const task = await chain.reader.task(taskId);
  await chain.execute(keeper, { accept_task: { task_id: taskId } }, [{ denom: task.denom, amount: task.keeper_bond }]);
}

export async function joinTask(chain: TestChain, trainer: TestAccount, taskId: number): Promise<void> {
  await ensureRegistered(chain, trainer, { organization: false, trainer: true });
  const task = await chain.reader.task(taskId);
  await chain.execute(trainer, { join_task: { task_id: taskId, node_public_key: null } }, [{ denom: task.denom, amount: task.stake }]);
}

export interface RoundSetup {
  round: number;
  /** The round's figure of the task's metric (accuracy unless the task names another). */
  value: string;
  loss: string;
  contributors: { trainer: TestAccount; weight: number }[];
  slashes?: { trainer: TestAccount; reason: SlashReason; detail: string }[];
}

/**
 * The trainer's signed update claim, as client_kit/envelope.py makes it: canonical JSON (keys
 * sorted) naming its kind, signed as an ADR-036 sign doc. The contract accepts only `update` claims.
 */
async function signedClaim(chain: TestChain, trainer: TestAccount, taskId: number, round: number) {
  const payload = JSON.stringify({
    base: sha256Hex(`task ${taskId} round ${round - 1} model`),
    chain_id: chain.stack.chainId,
    contract: chain.stack.contract,
    digest: sha256Hex(`update ${trainer.address} ${round}`),
    kind: "update",
    num_examples: 1000,
    round,
    task_id: taskId,
    v: 2,
  });
  const wallet = await Secp256k1HdWallet.fromMnemonic(trainer.mnemonic, { prefix: chain.stack.prefix });
  const [account] = await wallet.getAccounts();
  const doc = makeSignDoc(
    [{ type: "sign/MsgSignData", value: { signer: trainer.address, data: toBase64(toUtf8(payload)) } }],
    { gas: "0", amount: [] },
    "",
    "",
    0,
    0,
  );
  const { signature } = await wallet.signAmino(trainer.address, doc);
  return { payload: toBase64(toUtf8(payload)), pub_key: toBase64(account!.pubkey), signature: signature.signature };
}

/** The keeper attests a round, naming the task's metric (and slashes in the same transaction, as the keeper does). */
export async function submitRound(chain: TestChain, kuboApi: string, taskId: number, setup: RoundSetup): Promise<string> {
  const keeper = await chain.dev("keeper");
  const { metric } = await chain.reader.task(taskId);
  const modelCid = await fakeCid(kuboApi, `task ${taskId} round ${setup.round} model`);
  const calls: { msg: ExecuteMsg }[] = [
    {
      msg: {
        submit_round: {
          task_id: taskId,
          round: setup.round,
          model_cid: modelCid,
          model_sha256: sha256Hex(`task ${taskId} round ${setup.round} model`),
          metrics: { metric: metric.name, value: setup.value, loss: setup.loss, examples: 1000 * setup.contributors.length },
          contributors: setup.contributors.map(({ trainer, weight }) => ({ trainer: trainer.address, weight: String(weight) })),
        },
      },
    },
  ];
  for (const slash of setup.slashes ?? []) {
    calls.push({
      msg: {
        slash: {
          task_id: taskId,
          round: setup.round,
          trainer: slash.trainer.address,
          reason: slash.reason,
          detail: slash.detail,
          evidence: {
            claim: await signedClaim(chain, slash.trainer, taskId, setup.round),
            conflicting_claim: null,
            update_cid: await fakeCid(kuboApi, `evidence ${taskId} ${slash.trainer.address}`),
          },
        },
      },
    });
  }
  const result = await chain.executeAll(keeper, calls);
  return result.transactionHash;
}

export async function finalizeTask(chain: TestChain, taskId: number): Promise<void> {
  const keeper = await chain.dev("keeper");
  await chain.execute(keeper, { finalize_task: { task_id: taskId } });
}

export const taskOf = (chain: TestChain, taskId: number): Promise<TaskResponse> => chain.reader.task(taskId);
