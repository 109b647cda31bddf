"use client";

import { Amount } from "@/components/common/Amount";
import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";
import { type ParticipantResponse, type TaskResponse } from "@/lib/contract/types";
import { formatAmount } from "@/lib/format";

/** Leave an open task before its first round and take the whole stake back. */
export function LeavePanel({ task, participant, onDone }: { task: TaskResponse; participant: ParticipantResponse; onDone: () => void }) {
  return (
    <div data-testid="leave-panel">
      <p className="small">
        Your stake: <Amount amount={participant.stake} denom={task.denom} />. Until joins close with enough trainers you can leave
        and take all of it back.
      </p>
      <TxButton
        variant="plain"
        onSuccess={onDone}
        intent={() => ({
          title: `Leave task #${task.id}`,
          effects: [
            "Removes you from the task before its first round.",
            `Sends your full stake of ${formatAmount(participant.stake, task.denom)} back to you.`,
          ],
          call: taskHubCalls.leaveTask(task.id),
        })}
      >
        Leave and take the stake back
      </TxButton>
    </div>
  );
}
