"use client";

import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type TaskResponse } from "@/lib/contract/types";

/** After the claim window, anyone sends what is left (dust, unclaimed shares) to the treasury. */
export function SweepPanel({ task, onDone }: { task: TaskResponse; onDone: () => void }) {
  return (
    <div data-testid="sweep-panel">
      <p className="small">The claim window has closed.</p>
      <TxButton
        variant="plain"
        onSuccess={onDone}
        intent={() => ({
          title: `Sweep task #${task.id}`,
          effects: ["Sends everything the contract still holds for this task to the task's treasury.", "Later claims are refused."],
          call: taskHubCalls.sweep(task.id),
        })}
      >
        Sweep to the treasury
      </TxButton>
    </div>
  );
}
