"use client";

import Link from "next/link";
import { useState } from "react";

import { RegisterPanel } from "@/components/account/RegisterPanel";
import { useNow } from "@/components/providers/ClockProvider";
import { useConfig } from "@/components/providers/ConfigProvider";
import { useAccount, useWallet } from "@/components/providers/WalletProvider";
import { TxButton } from "@/components/tx/TxButton";
import { keeperFeeBps, type KeeperLookup, useKeeperLookup } from "@/hooks/useKeeperLookup";
import { displayDenom } from "@/lib/config";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type CreateTaskMsg } from "@/lib/contract/types";
import { describeMetric, formatAmount, formatBps, parseAmount } from "@/lib/format";
import { type TxOutcome } from "@/lib/wallet/signer";

import { EscrowSummary } from "./EscrowSummary";
import { FilePinField, type PinnedFile } from "./FilePinField";
import { KeeperField } from "./KeeperField";

/** The form's fields as typed: amounts in display units, windows in minutes, penalties in percent. */
const DEFAULTS = {
  modelName: "",
  description: "",
  rounds: "3",
  minTrainers: "2",
  maxTrainers: "4",
  pool: "100",
  stake: "5",
  keeperBond: "10",
  joinWindowMinutes: "30",
  trainingWindowMinutes: "120",
  noShowPercent: "10",
  slashPercent: "50",
  maxExamples: "10000",
  maxUpdateNorm: "50",
  roundTimeoutSecs: "120",
};
type Fields = typeof DEFAULTS;

const integer = (text: string): number | null => (/^\s*\d+\s*$/.test(text) ? Number(text) : null);
/** A positive decimal as the contract's Decimal takes it (a string, at most 18 fraction digits), or null. */
const positiveDecimal = (text: string): string | null => {
  const trimmed = text.trim();
  return /^\d+(\.\d{1,18})?$/.test(trimmed) && Number(trimmed) > 0 ? trimmed : null;
};
const percentToBps = (text: string): number | null => {
  const value = Number(text);
  return text.trim() !== "" && Number.isFinite(value) && value >= 0 ? Math.round(value * 100) : null;
};

/** The task as the contract will receive it, or the first problem the form can see on its own. */
function buildTask(
  fields: Fields,
  files: { client: PinnedFile | null; model: PinnedFile | null },
  keeper: { address: string; lookup: KeeperLookup },
  denom: string,
  now: number,
) {
  const numbers = {
    rounds: integer(fields.rounds),
    minTrainers: integer(fields.minTrainers),
    maxTrainers: integer(fields.maxTrainers),
    joinWindow: integer(fields.joinWindowMinutes),
    trainingWindow: integer(fields.trainingWindowMinutes),
    maxExamples: integer(fields.maxExamples),
    roundTimeout: integer(fields.roundTimeoutSecs),
    noShowBps: percentToBps(fields.noShowPercent),
    slashBps: percentToBps(fields.slashPercent),
  };
  const pool = parseAmount(fields.pool, denom);
  const stake = parseAmount(fields.stake, denom);
  const keeperBond = parseAmount(fields.keeperBond, denom);
  if (!fields.modelName.trim()) return { problem: "Name the model." };
  if (!files.client) return { problem: "Upload client.py." };
  if (!files.client.metric) return { problem: "client.py's settings could not be read." };
  if (!files.model) return { problem: "Upload the initial model." };
  if (!keeper.address.trim()) return { problem: "Name the keeper." };
  // The organization agrees to the keeper's fee as its profile states it now (max_keeper_fee_bps).
  const keeperFee = keeperFeeBps(keeper.lookup);
  if (keeperFee === null) {
    return {
      problem:
        keeper.lookup.state === "found"
          ? "The keeper must be a registered keeper."
          : keeper.lookup.state === "error"
            ? "The keeper's profile could not be read."
            : "Waiting for the keeper's profile (its fee).",
    };
  }
  if (Object.values(numbers).some((value) => value === null)) return { problem: "Every number must be a whole number (percentages may have decimals)." };
  if (pool === null || stake === null || keeperBond === null || pool === 0n) return { problem: "Amounts must be positive numbers." };
  const n = numbers as { [K in keyof typeof numbers]: number };
  if (n.minTrainers > n.maxTrainers) return { problem: "The minimum number of trainers is above the maximum." };
  const maxUpdateNorm = positiveDecimal(fields.maxUpdateNorm);
  if (maxUpdateNorm === null) return { problem: "The update norm bound must be a positive number." };
  if (n.trainingWindow * 60 < n.rounds * n.roundTimeout) {
    return { problem: "Training must last long enough for every round at its timeout (rounds × round timeout)." };
  }
  const joinDeadline = now + n.joinWindow * 60;
  const terms: CreateTaskMsg = {
    model_name: fields.modelName.trim(),
    description: fields.description.trim(),
    client_cid: files.client.cid,
    client_sha256: files.client.sha256,
    initial_model_cid: files.model.cid,
    initial_model_sha256: files.model.sha256,
    rounds: n.rounds,
    min_trainers: n.minTrainers,
    max_trainers: n.maxTrainers,
    stake: stake.toString(),
    join_deadline: joinDeadline,
    training_deadline: joinDeadline + n.trainingWindow * 60,
    keeper: keeper.address.trim(),
    keeper_bond: keeperBond.toString(),
    max_keeper_fee_bps: keeperFee,
    no_show_penalty_bps: n.noShowBps,
    slash_bps: n.slashBps,
    max_examples_per_trainer: n.maxExamples,
    max_update_norm: maxUpdateNorm,
    round_timeout_secs: n.roundTimeout,
    // As client.py declares it: the keeper refuses a task whose chain metric differs.
    metric: files.client.metric,
  };
  return { terms, pool, metric: files.client.metric };
}

/** An organization creates and funds a task: files pinned by the server, terms checked by the contract. */
export function CreateTaskForm({ knownKeepers }: { knownKeepers: string[] }) {
  const { denom } = useConfig();
  const account = useAccount();
  const { connect } = useWallet();
  const now = useNow();
  const [created, setCreated] = useState<{ taskId: string; hash: string } | null>(null);
  const [fields, setFields] = useState(DEFAULTS);
  const [files, setFiles] = useState<{ client: PinnedFile | null; model: PinnedFile | null }>({ client: null, model: null });
  const [keeper, setKeeper] = useState(knownKeepers[0] ?? "");
  const keeperLookup = useKeeperLookup(keeper);

  if (!account) {
    return (
      <div className="panel">
        <p>Connect the organization&apos;s wallet to create a task.</p>
        <button className="button primary" onClick={() => void connect()}>
          Connect wallet
        </button>
      </div>
    );
  }
  if (!account.profile?.is_organization) {
    return (
      <div className="panel">
        <p>Register this address as an organization first.</p>
        <RegisterPanel as="organization" />
      </div>
    );
  }

  const field = (name: keyof Fields, label: string, hint?: string) => (
    <div>
      <label htmlFor={`field-${name}`}>{label}</label>
      <input id={`field-${name}`} value={fields[name]} onChange={(event) => setFields({ ...fields, [name]: event.target.value })} />
      {hint && <div className="field-hint">{hint}</div>}
    </div>
  );
  const preview = buildTask(fields, files, { address: keeper, lookup: keeperLookup }, denom, now);
  const amounts = {
    pool: parseAmount(fields.pool, denom) ?? 0n,
    stake: parseAmount(fields.stake, denom) ?? 0n,
    bond: parseAmount(fields.keeperBond, denom) ?? 0n,
  };

  const rememberTask = (outcome: TxOutcome) => {
    const event = outcome.wasmEvents.find((attributes) => attributes.action === "create_task");
    if (event?.task_id) setCreated({ taskId: event.task_id, hash: outcome.hash });
  };

  if (created) {
    return (
      <div className="panel notice success" data-testid="task-created">
        <p>
          Task #{created.taskId} is created and its pool escrowed (tx <code className="hash">{created.hash}</code>). It waits for the
          keeper to accept and bond; then trainers can join.
        </p>
        <Link className="button primary" href={`/tasks/${created.taskId}`}>
          Open task #{created.taskId}
        </Link>
      </div>
    );
  }

  return (
    <form className="panel" onSubmit={(event) => event.preventDefault()} data-testid="create-task-form">
      <h2>What to train</h2>
      <div className="form-grid">{field("modelName", "Model name")}</div>
      <label htmlFor="field-description">Description</label>
      <textarea id="field-description" rows={2} value={fields.description} onChange={(event) => setFields({ ...fields, description: event.target.value })} />
      <div className="form-grid">
        <FilePinField kind="client" onPinned={(client) => setFiles((current) => ({ ...current, client }))} />
        <FilePinField kind="model" onPinned={(model) => setFiles((current) => ({ ...current, model }))} />
      </div>
      <p className="field-hint">Render both with `fedchain org build-client`; trainers check client.py&apos;s sha256 against the chain before running it.</p>
      {files.client?.metric && (
        <p className="notice info small" data-testid="task-metric-preview">
          Rounds report: <strong>{describeMetric(files.client.metric)}</strong>, as client.py&apos;s settings declare; the task names
          this metric on chain.
        </p>
      )}

      <h2 style={{ marginTop: "1.2rem" }}>Money</h2>
      <div className="form-grid">
        {field("pool", `Reward pool (${displayDenom(denom).symbol})`)}
        {field("stake", "Stake per trainer")}
        {field("keeperBond", "Keeper bond", "What the keeper stakes to accept; forfeited pro rata for undelivered rounds.")}
        {field("noShowPercent", "No-show penalty (% of stake)")}
        {field("slashPercent", "Slash (% of stake)")}
      </div>

      <h2 style={{ marginTop: "1.2rem" }}>Trainers, rounds and time</h2>
      <div className="form-grid">
        {field("rounds", "Rounds")}
        {field("minTrainers", "Minimum trainers")}
        {field("maxTrainers", "Maximum trainers")}
        {field("joinWindowMinutes", "Joins close in (minutes)")}
        {field("trainingWindowMinutes", "Training lasts (minutes after that)")}
        {field("roundTimeoutSecs", "Round timeout (seconds)")}
        {field("maxExamples", "Weight cap (examples per trainer)")}
        {field("maxUpdateNorm", "Update norm bound (L2 distance from the model)")}
      </div>
      <KeeperField value={keeper} onChange={setKeeper} knownKeepers={knownKeepers} lookup={keeperLookup} />

      <div style={{ marginTop: "1rem" }}>
        <EscrowSummary pool={amounts.pool} stake={amounts.stake} maxTrainers={integer(fields.maxTrainers) ?? 0} keeperBond={amounts.bond} denom={denom} />
      </div>
      {"problem" in preview && <p className="muted small" data-testid="form-problem">{preview.problem}</p>}
      <TxButton
        disabled={"problem" in preview}
        onSuccess={rememberTask}
        intent={() => {
          const built = buildTask(fields, files, { address: keeper, lookup: keeperLookup }, denom, Math.floor(Date.now() / 1000));
          if (!("terms" in built) || !built.terms) throw new Error(built.problem);
          const { terms, pool, metric } = built;
          return {
            title: `Create and fund “${terms.model_name}”`,
            effects: [
              `Escrows the reward pool of ${formatAmount(pool, denom)} in the contract.`,
              `${terms.rounds} rounds with ${terms.min_trainers}–${terms.max_trainers} trainers staking ${formatAmount(terms.stake, denom)} each.`,
              `Rounds report ${describeMetric(metric)}, as client.py declares.`,
              `Keeper ${terms.keeper} must accept and bond ${formatAmount(terms.keeper_bond, denom)} before trainers can join.`,
              `Agrees to a keeper fee of at most ${formatBps(terms.max_keeper_fee_bps)} of the delivered pool (the keeper's fee now); the contract refuses the task if the keeper's fee is higher when it arrives.`,
              `Joins close ${new Date(terms.join_deadline * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC; training ends ${new Date(terms.training_deadline * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC.`,
              "You can cancel (and get the pool back) until the task is full or joins close with enough trainers; from then on the task is committed.",
            ],
            call: taskHubCalls.createTask(terms, { denom, amount: pool.toString() }),
          };
        }}
      >
        Create and fund the task
      </TxButton>
    </form>
  );
}
