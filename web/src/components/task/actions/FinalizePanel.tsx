"use client";

import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type TaskResponse } from "@/lib/contract/types";

/** Anyone may settle a task once the contract allows it (all rounds done, or deadlines passed). */
export function FinalizePanel({ task, onDone }: { task: TaskResponse; onDone: () => void }) {
  const complete = task.rounds_completed === task.rounds;
  return (
    <div data-testid="finalize-panel">
      <p className="small">
        {complete
          ? "All rounds are attested: the task can be finalized (the keeper usually does it)."
          : "The deadlines have passed: anyone can settle this task now."}
      </p>
      <TxButton
        variant="plain"
        onSuccess={onDone}
        intent={() => ({
          title: `Finalize task #${task.id}`,
          effects: [
            "Settles the task by the contract's rules: fees, the keeper's pay and bond, the undelivered pool back to the organization.",
            "Trainers then claim their stakes and rewards.",
          ],
          call: taskHubCalls.finalizeTask(task.id),
        })}
      >
        Finalize
      </TxButton>
    </div>
  );
}
