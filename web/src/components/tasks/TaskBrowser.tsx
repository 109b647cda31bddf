"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";
import { useCallback, useMemo, useState } from "react";

import { LiveIndicator } from "@/components/common/LiveIndicator";
import { useReader } from "@/components/providers/ConfigProvider";
import { useCoalescedRefresh } from "@/hooks/useCoalescedRefresh";
import { useContractEvents } from "@/hooks/useContractEvents";
import { type TaskResponse, type TaskStatus } from "@/lib/contract/types";

import { TaskCard } from "./TaskCard";

const FILTERS: { label: string; status: TaskStatus | null }[] = [
  { label: "All", status: null },
  { label: "Open", status: "open" },
  { label: "Training", status: "running" },
  { label: "Waiting for keeper", status: "proposed" },
  { label: "Finalized", status: "finalized" },
  { label: "Cancelled", status: "cancelled" },
];

/** Every task, newest first, filtered by status, kept current by the contract's events. */
export function TaskBrowser({ initialTasks }: { initialTasks: TaskResponse[] }) {
  const reader = useReader();
  const [tasks, setTasks] = useState(initialTasks);
  const [filter, setFilter] = useState<TaskStatus | null>(null);
  const reload = useCallback(async () => setTasks((await reader.tasks()).toReversed()), [reader]);
  const refresh = useCoalescedRefresh(reload);
  const chainStatus = useContractEvents(useCallback(() => refresh(), [refresh]));

  const counts = useMemo(() => {
    const byStatus = new Map<TaskStatus | null, number>([[null, tasks.length]]);
    for (const task of tasks) byStatus.set(task.status, (byStatus.get(task.status) ?? 0) + 1);
    return byStatus;
  }, [tasks]);
  const shown = filter ? tasks.filter((task) => task.status === filter) : tasks;

  return (
    <>
      <div className="spread">
        <h1>Training tasks</h1>
        <LiveIndicator label="chain" status={chainStatus} />
      </div>
      <p className="muted">
        Each task escrows a reward pool on chain. Trainers stake to join, train on their own data with the task&apos;s
        client.py, and are paid for their measured contribution.
      </p>
      <div className="filters" role="group" aria-label="Filter by status">
        {FILTERS.map(({ label, status }) => (
          <button key={label} className="button small" aria-pressed={filter === status} onClick={() => setFilter(status)}>
            {label} ({counts.get(status) ?? 0})
          </button>
        ))}
      </div>
      {shown.length === 0 ? (
        <p className="panel muted" data-testid="no-tasks">
          No tasks {filter ? `with status “${filter}”` : "yet"}.
        </p>
      ) : (
        <ul className="task-cards" style={{ listStyle: "none", padding: 0, margin: 0 }} data-testid="task-list">
          <AnimatePresence initial={false}>
            {shown.map((task) => (
              <m.li
                key={task.id}
               
                initial={{ opacity: 0, y: -8 }}
                animate={{ opacity: 1, y: 0 }}
                exit={{ opacity: 0 }}
              >
                <TaskCard task={task} />
              </m.li>
            ))}
          </AnimatePresence>
        </ul>
      )}
    </>
  );
}
