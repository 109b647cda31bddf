"use client";

import { LiveIndicator } from "@/components/common/LiveIndicator";
import { StatusBadge } from "@/components/common/StatusBadge";
import { useLiveTask } from "@/hooks/useLiveTask";
import { type TaskView } from "@/lib/contract/task-view";

import { ActivityLog } from "./ActivityLog";
import { ParticipantsTable } from "./ParticipantsTable";
import { RoundsChart } from "./RoundsChart";
import { RoundsTable } from "./RoundsTable";
import { SettlementPanel } from "./SettlementPanel";
import { SlashesList } from "./SlashesList";
import { TaskFiles } from "./TaskFiles";
import { TaskTerms } from "./TaskTerms";
import { YourPart } from "./YourPart";

/** A task as the chain records it, kept live; the sections below each show one part of it. */
export function TaskPage({ initial }: { initial: TaskView }) {
  const { view, refresh, activity, chainStatus, feedStatus } = useLiveTask(initial);
  const { task } = view;
  return (
    <article data-testid="task-page" data-task-id={task.id}>
      <header className="spread" style={{ marginBottom: "0.75rem" }}>
        <div className="task-title">
          <h1>
            <span className="muted">#{task.id}</span> <span data-testid="task-model">{task.model_name}</span>
          </h1>
          <StatusBadge status={task.status} />
        </div>
        <div className="row">
          <LiveIndicator label="chain" status={chainStatus} />
          {feedStatus && <LiveIndicator label="keeper feed" status={feedStatus} />}
        </div>
      </header>
      {task.description && <p className="muted">{task.description}</p>}
      {/* Two rows, so that on a phone (one column) "Your part" comes right after the terms. */}
      <div className="grid-2">
        <TaskTerms task={task} />
        <YourPart view={view} onChanged={refresh} />
      </div>
      <div className="grid-2">
        <div>
          <section className="panel" aria-labelledby="rounds-heading">
            <h2 id="rounds-heading">
              Rounds <span className="muted">{task.rounds_completed} / {task.rounds}</span>
            </h2>
            <RoundsChart rounds={view.rounds} totalRounds={task.rounds} metric={task.metric} />
            <RoundsTable rounds={view.rounds} metricName={task.metric.name} />
          </section>
          <ParticipantsTable view={view} />
          <SlashesList slashes={view.slashes} denom={task.denom} />
          <SettlementPanel task={task} />
        </div>
        <div>
          <TaskFiles task={task} />
          <ActivityLog items={activity} />
        </div>
      </div>
    </article>
  );
}
