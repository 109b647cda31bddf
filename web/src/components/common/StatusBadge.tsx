"use client";

import * as m from "motion/react-m";

import { useChangeCount } from "@/hooks/useChangeCount";
import { type TaskStatus } from "@/lib/contract/types";

const LABELS: Record<TaskStatus, string> = {
  proposed: "waiting for keeper",
  open: "open for trainers",
  running: "training",
  finalized: "finalized",
  cancelled: "cancelled",
};

/** The task's status; it pops once when it changes live, and sits still otherwise. */
export function StatusBadge({ status }: { status: TaskStatus }) {
  const changes = useChangeCount(status);
  return (
    <m.span
      key={changes}
      className={`badge status-${status}`}
      data-status={status}
      initial={changes === 0 ? false : { scale: 1.25 }}
      animate={{ scale: 1 }}
      transition={{ type: "spring", stiffness: 400, damping: 18 }}
    >
      {LABELS[status]}
    </m.span>
  );
}
