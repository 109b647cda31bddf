import Link from "next/link";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { Countdown } from "@/components/common/Countdown";
import { Flash } from "@/components/common/Flash";
import { StatusBadge } from "@/components/common/StatusBadge";
import { type TaskResponse } from "@/lib/contract/types";

/** The deadline that matters now: joins while joining is possible, training while it runs. */
function NextDeadline({ task }: { task: TaskResponse }) {
  if (task.status === "proposed" || task.status === "open") {
    return (
      <>
        <dt>Joins close</dt>
        <dd>
          <Countdown deadline={task.join_deadline} />
        </dd>
      </>
    );
  }
  if (task.status === "running") {
    return (
      <>
        <dt>Training ends</dt>
        <dd>
          <Countdown deadline={task.training_deadline} />
        </dd>
      </>
    );
  }
  return null;
}

/** One task in the browser: what it pays, what it asks, how full it is, what comes next. */
export function TaskCard({ task }: { task: TaskResponse }) {
  const fill = Math.min(100, (task.participants / task.max_trainers) * 100);
  return (
    <Link href={`/tasks/${task.id}`} className="task-card" data-testid={`task-card-${task.id}`}>
      <div className="spread">
        <h2>
          <span className="muted">#{task.id}</span> {task.model_name}
        </h2>
        <StatusBadge status={task.status} />
      </div>
      <dl className="facts">
        <dt>Pool</dt>
        <dd>
          <Amount amount={task.pool} denom={task.denom} />
        </dd>
        <dt>Stake</dt>
        <dd>
          <Amount amount={task.stake} denom={task.denom} />
        </dd>
        <dt>Trainers</dt>
        <dd>
          <Flash value={task.participants}>
            <span data-testid="trainers-joined">{task.participants}</span>
          </Flash>{" "}
          joined · min {task.min_trainers} · max {task.max_trainers}
          <div className="meter" aria-hidden>
            <span style={{ width: `${fill}%` }} />
          </div>
        </dd>
        <dt>Rounds</dt>
        <dd>
          <Flash value={task.rounds_completed}>{task.rounds_completed}</Flash> / {task.rounds}
        </dd>
        <NextDeadline task={task} />
        <dt>Keeper</dt>
        <dd>
          <AddressText address={task.keeper} />
        </dd>
      </dl>
    </Link>
  );
}
