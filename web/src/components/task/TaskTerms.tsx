import { type ReactNode } from "react";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { Countdown } from "@/components/common/Countdown";
import { Flash } from "@/components/common/Flash";
import { useAccount } from "@/components/providers/WalletProvider";
import { type TaskResponse } from "@/lib/contract/types";
import { applyBps, formatBps, formatDuration, formatTime, metricDirection, shortHash } from "@/lib/format";

/** The task's terms and progress: what it pays and asks, who runs it, and its deadlines. */
export function TaskTerms({ task }: { task: TaskResponse }) {
  const me = useAccount()?.address;
  return (
    <section className="panel" aria-labelledby="terms-heading">
      <h2 id="terms-heading">Terms</h2>
      <div className="stat-grid">
        <Stat label="Reward pool">
          <Amount amount={task.pool} denom={task.denom} />
        </Stat>
        <Stat label="Stake per trainer">
          <Amount amount={task.stake} denom={task.denom} />
        </Stat>
        <Stat label="Trainers joined">
          <Flash value={task.participants}>
            <span data-testid="participants-count">{task.participants}</span>
          </Flash>{" "}
          <span className="muted">
            (min {task.min_trainers}, max {task.max_trainers})
          </span>
        </Stat>
        <Stat label="Rounds">
          <Flash value={task.rounds_completed}>
            <span data-testid="rounds-completed">{task.rounds_completed}</span>
          </Flash>{" "}
          / {task.rounds}
        </Stat>
        <Stat label="Joins close">
          {task.status === "proposed" || task.status === "open" ? <Countdown deadline={task.join_deadline} /> : "closed"}
        </Stat>
        <Stat label="Training ends">
          {task.status === "finalized" || task.status === "cancelled" ? task.status : <Countdown deadline={task.training_deadline} />}
        </Stat>
      </div>
      <dl className="facts" style={{ marginTop: "0.9rem" }}>
        <dt>Organization</dt>
        <dd>
          <AddressText address={task.organization} you={task.organization === me} />
        </dd>
        <dt>Keeper</dt>
        <dd>
          <AddressText address={task.keeper} you={task.keeper === me} />{" "}
          <span className="muted small">
            {task.bonded ? "accepted, bonded " : "has not accepted yet; bond due "}
            <Amount amount={task.keeper_bond} denom={task.denom} />
          </span>
        </dd>
        <dt>Fees</dt>
        <dd>
          platform {formatBps(task.fee_bps)}, keeper {formatBps(task.keeper_fee_bps)} of the delivered pool
        </dd>
        <dt>No-show penalty</dt>
        <dd>
          {formatBps(task.no_show_penalty_bps)} of the stake (
          <Amount amount={applyBps(task.stake, task.no_show_penalty_bps)} denom={task.denom} /> at most)
        </dd>
        <dt>Slash</dt>
        <dd>
          {formatBps(task.slash_bps)} of the stake (<Amount amount={applyBps(task.stake, task.slash_bps)} denom={task.denom} />)
        </dd>
        <dt>Metric</dt>
        <dd data-testid="task-metric">
          {task.metric.name} ({metricDirection(task.metric)})
        </dd>
        <dt>Paid by</dt>
        <dd>
          {task.scoring === "measured" ? (
            <>
              measured contribution on the organization&apos;s validation set (sha256{" "}
              <code title={task.validation_sha256 ?? ""}>{shortHash(task.validation_sha256 ?? "", 8)}</code>); each
              round&apos;s score table is on IPFS
            </>
          ) : (
            "claimed example counts, capped"
          )}
        </dd>
        <dt>Per round</dt>
        <dd>
          replies within {formatDuration(task.round_timeout_secs)};{" "}
          {task.scoring === "measured" ? "example counts" : "weight"} capped at {task.max_examples_per_trainer.toLocaleString("en-US")} examples;
          an update may move the model by at most {task.max_update_norm} (L2)
        </dd>
        <dt>Deadlines</dt>
        <dd className="small">
          joins until {formatTime(task.join_deadline)}; training until {formatTime(task.training_deadline)}; anyone may settle{" "}
          {formatDuration(task.grace_period_secs)} after that
        </dd>
        <dt>Created</dt>
        <dd className="small">{formatTime(task.created_at)}</dd>
      </dl>
    </section>
  );
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="stat">
      <div className="label">{label}</div>
      <div className="value">{children}</div>
    </div>
  );
}
