// The keeper's live feed (keepers/feed.py; kinds and fields in keepers/events.py): JSON events over a WebSocket, numbered by `seq`, the
// backlog first and then live ones. It says what the chain cannot: a round started, an update
// accepted or rejected (and why) before the round is attested.

import { type LinkStatus, openReconnectingSocket } from "@/lib/live/socket";

interface FeedEventBase {
  seq: number;
  time: number;
  task_id: number;
}

export type FeedEvent = FeedEventBase &
  (
    | { event: "trainer_connected"; node_id: number; trainer: string }
    | { event: "round_started"; round: number; node_id: number }
    | { event: "update_accepted"; round: number; trainer: string; node_id: number; weight: number }
    | { event: "update_rejected"; round: number; trainer: string | null; node_id: number; reason: string; malicious: boolean }
    | {
        event: "round_attested";
        round: number;
        tx_hash: string;
        model_cid: string;
        /** The task's metric name and its figure recorded on chain. */
        metric: string;
        value: number;
        loss: number;
        /** The trainers' signed evaluations (weighted median) and the keeper's own validation, when there are. */
        federated_value: number | null;
        validation_value: number | null;
        accepted: number;
        rejected: number;
      }
    | { event: "trainer_slashed"; round: number; trainer: string; reason: string; tx_hash: string }
    | { event: "task_finalized"; tx_hash: string }
  );

export const FEED_EVENT_KINDS: ReadonlySet<string> = new Set([
  "trainer_connected",
  "round_started",
  "update_accepted",
  "update_rejected",
  "round_attested",
  "trainer_slashed",
  "task_finalized",
]);

function parseFeedEvent(data: string): FeedEvent | null {
  const value: unknown = JSON.parse(data);
  if (typeof value !== "object" || value === null) return null;
  const candidate = value as Partial<FeedEventBase> & { event?: unknown };
  if (typeof candidate.event !== "string" || !FEED_EVENT_KINDS.has(candidate.event)) return null;
  if (typeof candidate.seq !== "number" || typeof candidate.task_id !== "number") return null;
  return value as FeedEvent;
}

/**
 * A keeper serves its feed only while it runs a task (from its ServerApp), so the page keeps
 * trying every 2 s at most: it is there within seconds of a run starting, and the feed replays
 * the run's backlog to a new subscriber, so nothing before that is lost.
 */
const FEED_MAX_BACKOFF_MS = 2_000;

export function watchKeeperFeed(
  url: string,
  onEvent: (event: FeedEvent) => void,
  onStatus: (status: LinkStatus) => void,
): () => void {
  // The backlog is replayed on every reconnection: drop what was already seen.
  const seen = new Set<string>();
  return openReconnectingSocket({
    url,
    onMessage: (data) => {
      const event = parseFeedEvent(data);
      if (!event) return;
      const key = `${event.seq}|${event.time}`;
      if (seen.has(key)) return;
      seen.add(key);
      onEvent(event);
    },
    onStatus,
    maxBackoffMs: FEED_MAX_BACKOFF_MS,
  });
}
