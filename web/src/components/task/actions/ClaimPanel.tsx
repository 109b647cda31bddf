"use client";

import { useEffect, useState } from "react";

import { Amount } from "@/components/common/Amount";
import { useReader } from "@/components/providers/ConfigProvider";
import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type ClaimableResponse, type ParticipantResponse, type TaskResponse } from "@/lib/contract/types";
import { explainQueryError } from "@/lib/errors";
import { formatAmount, formatBps, formatPercent } from "@/lib/format";

/** Why each part of the claim is what it is, in the contract's terms. */
function reasons(task: TaskResponse, participant: ParticipantResponse) {
  const weight = BigInt(participant.weight);
  const share = BigInt(task.total_weight) > 0n ? Number(weight) / Number(task.total_weight) : 0;
  return {
    penalty:
      task.status === "cancelled"
        ? "none: the task was cancelled"
        : participant.slashed
          ? `slashed: ${formatBps(task.slash_bps)} of the stake`
          : weight === 0n
            ? "no-show: you contributed to no round"
            : "none: you contributed",
    reward:
      task.status === "cancelled"
        ? "none: no round was delivered"
        : participant.slashed
          ? "none: a slashed trainer's share goes to the treasury"
          : weight === 0n
            ? "none: no contribution"
            : `your weight ${participant.weight} is ${formatPercent(share)} of all contributions`,
    compensation:
      BigInt(task.bond_forfeited) === 0n
        ? "none: the keeper delivered"
        : participant.slashed || weight === 0n
          ? "none: only trainers who contributed share the keeper's forfeited bond"
          : "your part of the keeper's bond, forfeited for undelivered rounds",
  };
}

/** The trainer's claim on a settled task: what the contract would pay now, part by part, and the claim itself. */
export function ClaimPanel({ task, participant, onDone }: { task: TaskResponse; participant: ParticipantResponse; onDone: () => void }) {
  const reader = useReader();
  const [claimable, setClaimable] = useState<ClaimableResponse | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    reader
      .claimable(task.id, participant.trainer)
      .then((answer) => current && setClaimable(answer))
      .catch((failure: unknown) => current && setError(explainQueryError(failure)));
    return () => {
      current = false;
    };
  }, [reader, task.id, participant.trainer, participant.claimed, task.status]);

  if (participant.claimed) {
    return (
      <p className="notice success" data-testid="claimed">
        You claimed <Amount amount={participant.claimed_amount} denom={task.denom} />.
      </p>
    );
  }
  if (task.swept) return <p className="notice warn">The claim window closed before you claimed.</p>;
  if (error) return <p className="notice error">{error}</p>;
  if (!claimable) return <p className="muted small">Reading what you can claim…</p>;

  const why = reasons(task, participant);
  const rows: [string, string, string, string][] = [
    ["Stake back", claimable.stake_back, `your stake ${formatAmount(participant.stake, task.denom)} minus the penalty`, "claim-stake-back"],
    ["Penalty", claimable.penalty, why.penalty, "claim-penalty"],
    ["Reward", claimable.reward, why.reward, "claim-reward"],
    ["Compensation", claimable.compensation, why.compensation, "claim-compensation"],
  ];
  return (
    <div data-testid="claim-panel">
      <h3>What you can claim</h3>
      <table className="breakdown small">
        <tbody>
          {rows.map(([label, amount, reason, testId]) => (
            <tr key={label}>
              <td>
                {label}
                <div className="muted small">{reason}</div>
              </td>
              <td data-testid={testId}>
                {label === "Penalty" && BigInt(amount) > 0n ? "−" : ""}
                <Amount amount={amount} denom={claimable.denom} />
              </td>
            </tr>
          ))}
          <tr className="total">
            <td>You receive</td>
            <td data-testid="claim-total">
              <Amount amount={claimable.amount} denom={claimable.denom} />
            </td>
          </tr>
        </tbody>
      </table>
      <TxButton
        disabled={BigInt(claimable.amount) === 0n}
        onSuccess={onDone}
        intent={() => ({
          title: `Claim from task #${task.id}`,
          effects: [
            `Sends you ${formatAmount(claimable.amount, claimable.denom)}: stake back ${formatAmount(claimable.stake_back, claimable.denom)}, reward ${formatAmount(claimable.reward, claimable.denom)}, compensation ${formatAmount(claimable.compensation, claimable.denom)}.`,
            "You can claim once.",
          ],
          call: taskHubCalls.claim(task.id),
        })}
      >
        Claim {formatAmount(claimable.amount, claimable.denom)}
      </TxButton>
    </div>
  );
}
