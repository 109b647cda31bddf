"use client";

import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type TaskResponse } from "@/lib/contract/types";
import { formatAmount } from "@/lib/format";

/** The organization cancels its task while no round has been attested. */
export function CancelPanel({ task, onDone }: { task: TaskResponse; onDone: () => void }) {
  return (
    <div data-testid="cancel-panel">
      <p className="small">You can cancel until joins close with enough trainers (or the first round is attested).</p>
      <TxButton
        variant="danger"
        onSuccess={onDone}
        intent={() => ({
          title: `Cancel task #${task.id}`,
          effects: [
            `Cancels “${task.model_name}” for good.`,
            `Sends the pool of ${formatAmount(task.pool, task.denom)} back to you.`,
            task.bonded ? `Sends the keeper's bond of ${formatAmount(task.keeper_bond, task.denom)} back to the keeper.` : "The keeper had not bonded yet.",
            task.participants
              ? `The ${task.participants} trainer(s) who joined claim their full stakes back.`
              : "No trainer has joined.",
          ],
          call: taskHubCalls.cancelTask(task.id),
        })}
      >
        Cancel the task
      </TxButton>
    </div>
  );
}
