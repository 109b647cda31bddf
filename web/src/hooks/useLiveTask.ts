"use client";

import { useCallback, useEffect, useState } from "react";

import { useReader } from "@/components/providers/ConfigProvider";
import { loadTaskView, type TaskView } from "@/lib/contract/task-view";
import { type ContractEvent } from "@/lib/live/contract-events";
import { type FeedEvent } from "@/lib/live/keeper-feed";

import { useCoalescedRefresh } from "./useCoalescedRefresh";
import { useContractEvents } from "./useContractEvents";
import { useKeeperFeed } from "./useKeeperFeed";

export type ActivityItem =
  | { source: "chain"; id: string; event: ContractEvent }
  | { source: "keeper"; id: string; event: FeedEvent };

const ACTIVITY_LIMIT = 40;
/** Without the chain's WebSocket the page still moves, by polling. */
const FALLBACK_POLL_MS = 4000;

/** Feed events after which the chain has something new to read. */
const FEED_EVENTS_THAT_CHANGE_THE_CHAIN = new Set(["round_attested", "trainer_slashed", "task_finalized"]);

/**
 * A task's view, kept current without reloading the page: the chain's event stream (and the
 * keeper's feed, when configured) tell when to re-read it; a poll covers a lost connection.
 */
export function useLiveTask(initial: TaskView) {
  const reader = useReader();
  const taskId = initial.task.id;
  const [view, setView] = useState(initial);
  const [activity, setActivity] = useState<ActivityItem[]>([]);

  const reload = useCallback(async () => setView(await loadTaskView(reader, taskId)), [reader, taskId]);
  const refresh = useCoalescedRefresh(reload);

  const remember = useCallback((item: ActivityItem) => {
    setActivity((items) => (items.some((known) => known.id === item.id) ? items : [item, ...items].slice(0, ACTIVITY_LIMIT)));
  }, []);

  const chainStatus = useContractEvents(
    useCallback(
      (event: ContractEvent) => {
        if (event.taskId !== taskId) return;
        remember({ source: "chain", id: `${event.txHash}:${event.action}:${event.attributes.trainer ?? ""}`, event });
        refresh();
      },
      [taskId, remember, refresh],
    ),
  );

  const feedStatus = useKeeperFeed(
    useCallback(
      (event: FeedEvent) => {
        if (event.task_id !== taskId) return;
        remember({ source: "keeper", id: `feed:${event.seq}:${event.time}`, event });
        if (FEED_EVENTS_THAT_CHANGE_THE_CHAIN.has(event.event)) refresh();
      },
      [taskId, remember, refresh],
    ),
  );

  useEffect(() => {
    if (chainStatus === "live") {
      refresh(); // catch up on anything that happened while the socket was connecting
      return;
    }
    const timer = setInterval(refresh, FALLBACK_POLL_MS);
    return () => clearInterval(timer);
  }, [chainStatus, refresh]);

  return { view, refresh, activity, chainStatus, feedStatus };
}
