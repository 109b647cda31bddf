import { TaskBrowser } from "@/components/tasks/TaskBrowser";
import { TaskHubReader } from "@/lib/contract/task-hub";
import { readPublicConfig } from "@/lib/server/runtime-config";

export default async function TasksPage() {
  const config = await readPublicConfig();
  const tasks = await new TaskHubReader(config.rest, config.contract).tasks();
  return <TaskBrowser initialTasks={tasks.toReversed()} />;
}
