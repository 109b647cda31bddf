"use client";

import { Amount } from "@/components/common/Amount";
import { useNow } from "@/components/providers/ClockProvider";
import { useAccount } from "@/components/providers/WalletProvider";
import { RegisterPanel } from "@/components/account/RegisterPanel";
import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type TaskResponse } from "@/lib/contract/types";
import { applyBps, formatAmount, formatBps } from "@/lib/format";

/** Stake into an open task, with what the stake risks spelled out before anything is signed. */
export function JoinPanel({ task, onDone }: { task: TaskResponse; onDone: () => void }) {
  const account = useAccount();
  const now = useNow();
  if (!account) return null;
  if (!account.profile?.is_trainer) {
    return (
      <div>
        <p className="small">To join, register this address as a trainer first.</p>
        <RegisterPanel as="trainer" />
      </div>
    );
  }
  const full = task.participants >= task.max_trainers;
  const closed = now >= task.join_deadline;
  const stake = formatAmount(task.stake, task.denom);
  const noShow = formatAmount(applyBps(task.stake, task.no_show_penalty_bps), task.denom);
  const slash = formatAmount(applyBps(task.stake, task.slash_bps), task.denom);
  const terms = [
    <>You stake {stake}; the contract holds it until the task is settled.</>,
    <>
      Until the task is full or joins close with enough trainers you may leave and take the full stake back; if the organization
      cancels, you claim it all back. After that the task is committed: you are in until it settles.
    </>,
    <>
      If you contribute to no round, you lose up to {formatBps(task.no_show_penalty_bps)} of it ({noShow}), in proportion to the
      rounds that ran.
    </>,
    <>
      If the keeper proves with your own signed update that it was malformed or malicious, you lose {formatBps(task.slash_bps)} ({slash})
      and your reward share, which go to the treasury.
    </>,
    <>
      Otherwise you get your stake back plus a share of the pool after fees (platform {formatBps(task.fee_bps)}, keeper{" "}
      {formatBps(task.keeper_fee_bps)}) in proportion to your measured contribution.
    </>,
  ];
  return (
    <div data-testid="join-panel">
      <h3>
        Join for <Amount amount={task.stake} denom={task.denom} />
      </h3>
      <ul className="effects small">
        {terms.map((term, index) => (
          <li key={index}>{term}</li>
        ))}
      </ul>
      <p className="field-hint">
        When you start training (`fedchain trainer train`), it names your node&apos;s key for this task on chain (one small
        transaction): the keeper&apos;s server admits only the nodes staked trainers named, over TLS pinned to the certificate
        on chain. Then it proves to the keeper with a claim signed by this address that its node trains for you.
      </p>
      {full && <p className="notice warn small">The task is full.</p>}
      {closed && <p className="notice warn small">The join deadline has passed.</p>}
      <TxButton
        disabled={full || closed}
        onSuccess={onDone}
        intent={() => ({
          title: `Join task #${task.id}`,
          effects: [`Joins “${task.model_name}” as a trainer.`, ...terms],
          call: taskHubCalls.joinTask(task),
        })}
      >
        Join and stake {stake}
      </TxButton>
    </div>
  );
}
