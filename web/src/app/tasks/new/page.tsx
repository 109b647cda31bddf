import { type Metadata } from "next";

import { CreateTaskForm } from "@/components/create/CreateTaskForm";
import { TaskHubReader } from "@/lib/contract/task-hub";
import { readPublicConfig } from "@/lib/server/runtime-config";

export const metadata: Metadata = { title: "Create a task" };

export default async function NewTaskPage() {
  const config = await readPublicConfig();
  // Keepers seen on recent tasks, offered as suggestions (the contract has no keeper directory).
  const tasks = await new TaskHubReader(config.rest, config.contract).tasks({}, 200);
  const knownKeepers = [...new Set(tasks.toReversed().map((task) => task.keeper))];
  return (
    <>
      <h1>Create a training task</h1>
      <p className="muted">
        Upload the task&apos;s client.py and initial model, set the terms, and fund the reward pool. The keeper then accepts
        and bonds, and trainers stake to join.
      </p>
      <CreateTaskForm knownKeepers={knownKeepers} />
    </>
  );
}
