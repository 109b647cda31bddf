"use client";

import Link from "next/link";
import { useEffect, useState } from "react";

import { StatusBadge } from "@/components/common/StatusBadge";
import { useReader } from "@/components/providers/ConfigProvider";
import { type TaskResponse } from "@/lib/contract/types";

/** Tasks this address created or keeps (the contract indexes both; trainers find theirs on each task page). */
export function MyTasks({ address }: { address: string }) {
  const reader = useReader();
  const [tasks, setTasks] = useState<{ created: TaskResponse[]; kept: TaskResponse[] } | null>(null);
  useEffect(() => {
    let current = true;
    void Promise.all([reader.tasks({ organization: address }), reader.tasks({ keeper: address })]).then(
      ([created, kept]) => current && setTasks({ created: created.toReversed(), kept: kept.toReversed() }),
    );
    return () => {
      current = false;
    };
  }, [reader, address]);
  if (!tasks || (tasks.created.length === 0 && tasks.kept.length === 0)) return null;
  const list = (title: string, items: TaskResponse[]) =>
    items.length > 0 && (
      <>
        <h3>{title}</h3>
        <ul>
          {items.map((task) => (
            <li key={task.id}>
              <Link href={`/tasks/${task.id}`}>
                #{task.id} {task.model_name}
              </Link>{" "}
              <StatusBadge status={task.status} />
            </li>
          ))}
        </ul>
      </>
    );
  return (
    <section className="panel" data-testid="my-tasks">
      <h2>Your tasks</h2>
      {list("Created by you", tasks.created)}
      {list("Kept by you", tasks.kept)}
    </section>
  );
}
