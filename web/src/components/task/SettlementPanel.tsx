"use client";

import { Amount } from "@/components/common/Amount";
import { Countdown } from "@/components/common/Countdown";
import { type TaskResponse } from "@/lib/contract/types";
import { formatTime } from "@/lib/format";

/** Where the money went once the task settled (finalized or cancelled), line by line. */
export function SettlementPanel({ task }: { task: TaskResponse }) {
  if (task.status !== "finalized" && task.status !== "cancelled") return null;
  const settledAt = task.settled_at ?? null;
  const line = (label: string, amount: string, testId?: string) => (
    <tr key={label}>
      <td>{label}</td>
      <td data-testid={testId}>
        <Amount amount={amount} denom={task.denom} />
      </td>
    </tr>
  );
  return (
    <section className="panel" aria-labelledby="settlement-heading" data-testid="settlement">
      <h2 id="settlement-heading">Settlement</h2>
      {task.status === "cancelled" ? (
        <p>
          Cancelled by the organization{settledAt ? ` on ${formatTime(settledAt)}` : ""}: the pool went back to it
          {task.bonded ? ", the bond back to the keeper" : ""}, and every trainer claims its full stake back.
        </p>
      ) : (
        <p className="muted small">
          {task.productive_rounds} of {task.rounds} rounds delivered with contributions ({task.rounds_completed} attested).
        </p>
      )}
      <table className="breakdown">
        <tbody>
          {task.status === "finalized" && (
            <>
              {line("Delivered pool", task.delivered_pool)}
              {line("Platform fee (treasury)", task.fee)}
              {line("Keeper fee", task.keeper_fee)}
              {line("Distributable to contributors", task.distributable, "settlement-distributable")}
              {line("Reward share of slashed trainers (treasury)", task.slashed_reward)}
              {line("No-show penalty, per no-show", task.no_show_penalty)}
              {line("No-show forfeits in total (treasury)", task.no_show_forfeits)}
              {line("Keeper bond forfeited", task.bond_forfeited)}
              {line("… compensation to the organization", task.org_compensation)}
              {line("… compensation per trainer", task.trainer_compensation)}
              {line("Paid to the treasury", task.treasury_paid)}
              {line("Refunded to the organization", task.org_refunded)}
              {line("Paid to the keeper", task.keeper_paid)}
            </>
          )}
          {line("Rewards claimed so far", task.rewards_paid)}
          {line("Paid out in total", task.paid_out)}
          <tr className="total">
            <td>Still held by the contract</td>
            <td data-testid="settlement-held">
              <Amount amount={task.held} denom={task.denom} />
            </td>
          </tr>
        </tbody>
      </table>
      <p className="small muted">
        {task.claimed_count} of {task.participants} trainers claimed.{" "}
        {task.swept ? (
          "The claim window closed and what was left went to the treasury."
        ) : settledAt !== null ? (
          <>
            Claims close <Countdown deadline={settledAt + task.claim_window_secs} passedLabel="closed" />; then anyone may sweep what
            is left to the treasury.
          </>
        ) : null}
      </p>
    </section>
  );
}
