import { type Metadata } from "next";
import { notFound } from "next/navigation";

import { TaskPage } from "@/components/task/TaskPage";
import { ChainQueryError } from "@/lib/chain/rest";
import { TaskHubReader } from "@/lib/contract/task-hub";
import { loadTaskView } from "@/lib/contract/task-view";
import { readPublicConfig } from "@/lib/server/runtime-config";

export async function generateMetadata(props: PageProps<"/tasks/[id]">): Promise<Metadata> {
  const { id } = await props.params;
  return { title: `Task ${id}` };
}

export default async function Page(props: PageProps<"/tasks/[id]">) {
  const { id } = await props.params;
  const taskId = Number(id);
  if (!Number.isSafeInteger(taskId) || taskId < 1) notFound();
  const config = await readPublicConfig();
  const view = await loadTaskView(new TaskHubReader(config.rest, config.contract), taskId).catch((error: unknown) => {
    if (error instanceof ChainQueryError && /not found/i.test(error.message)) notFound();
    throw error;
  });
  return <TaskPage initial={view} />;
}
