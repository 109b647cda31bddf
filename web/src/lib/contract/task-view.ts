// Everything the task page shows, read from the chain in one go: the task, its rounds, its
// participants and its slashes. Shared by the server render and the browser's live refresh.

import { type TaskHubReader } from "@/lib/contract/task-hub";
import {
  type ParticipantResponse,
  type RoundResponse,
  type SlashResponse,
  type TaskResponse,
} from "@/lib/contract/types";

export interface TaskView {
  task: TaskResponse;
  rounds: RoundResponse[];
  participants: ParticipantResponse[];
  slashes: SlashResponse[];
}

export async function loadTaskView(reader: TaskHubReader, taskId: number, signal?: AbortSignal): Promise<TaskView> {
  const [task, rounds, participants, slashes] = await Promise.all([
    reader.task(taskId, signal),
    reader.rounds(taskId, signal),
    reader.participants(taskId, signal),
    reader.slashes(taskId, signal),
  ]);
  return { task, rounds, participants, slashes };
}

/** How a participant stands, in the words the page uses. */
export type Standing = "slashed" | "contributor" | "no-show" | "no contribution yet" | "joined";

export function standingOf(participant: ParticipantResponse, task: TaskResponse): Standing {
  if (participant.slashed) return "slashed";
  if (BigInt(participant.weight) > 0n) return "contributor";
  if (task.status === "finalized") return "no-show";
  return task.status === "running" ? "no contribution yet" : "joined";
}

export interface Payout {
  stakeBack: bigint;
  penalty: bigint;
  reward: bigint;
  compensation: bigint;
  total: bigint;
}

/**
 * What `claim` pays a participant of a settled task, by the contract's rule (spec: claim): the
 * stake minus its penalty, plus its reward share and the keeper-bond compensation. The page's
 * estimate for everyone; the connected trainer's own panel asks the contract (`claimable`).
 */
export function payoutOf(participant: ParticipantResponse, task: TaskResponse): Payout | null {
  const stake = BigInt(participant.stake);
  if (task.status === "cancelled") return { stakeBack: stake, penalty: 0n, reward: 0n, compensation: 0n, total: stake };
  if (task.status !== "finalized") return null;
  const weight = BigInt(participant.weight);
  const penalty = participant.slashed
    ? (stake * BigInt(task.slash_bps)) / 10000n
    : weight === 0n
      ? BigInt(task.no_show_penalty)
      : 0n;
  const totalWeight = BigInt(task.total_weight);
  const reward =
    !participant.slashed && weight > 0n && totalWeight > 0n ? (BigInt(task.distributable) * weight) / totalWeight : 0n;
  // Only contributors in good standing share a failed keeper's bond (the contract's rule).
  const compensation = participant.slashed || weight === 0n ? 0n : BigInt(task.trainer_compensation);
  const stakeBack = stake - penalty;
  return { stakeBack, penalty, reward, compensation, total: stakeBack + reward + compensation };
}

/**
 * Once the task is full, or joins have closed with enough trainers, the keeper is committed to run
 * it: neither the organization's cancel nor a trainer's leave is accepted any more (the contract's
 * TaskCommitted), so a failing keeper cannot turn its failure into a task that never started, and
 * nobody can void round 1 while it is trained (a full task may start at once).
 */
export function isCommitted(task: TaskResponse, now: number): boolean {
  const joinsClosed = now >= task.join_deadline && task.participants >= task.min_trainers;
  return task.status === "open" && (joinsClosed || task.participants >= task.max_trainers);
}

/**
 * The contract judges a deadline by its last block's time, which trails the wall clock by up to a
 * block (~6 s on Cosmos chains, 0.5 s on the localnet): an action that waits for a deadline is
 * offered this much later, so the contract agrees when it is simulated.
 */
export const CHAIN_CLOCK_LAG_SECS = 6;

/** Whether the chain sees `deadline` as passed, judged from the browser's clock `now`. */
export const chainPassed = (now: number, deadline: number): boolean => now >= deadline + CHAIN_CLOCK_LAG_SECS;

/** Whether `finalize_task` would be accepted now (the contract's three paths), by block time. */
export function finalizeAllowed(task: TaskResponse, now: number): boolean {
  if (task.status === "running" && task.rounds_completed === task.rounds) return true;
  if ((task.status === "open" || task.status === "running") && chainPassed(now, task.training_deadline + task.grace_period_secs))
    return true;
  const neverStarted =
    task.rounds_completed === 0 &&
    chainPassed(now, task.join_deadline) &&
    (task.status === "proposed" || (task.status === "open" && task.participants < task.min_trainers));
  return neverStarted;
}
