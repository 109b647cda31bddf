"use client";

import { useEffect, useRef, useState } from "react";

import { useConfig } from "@/components/providers/ConfigProvider";
import { type FeedEvent, watchKeeperFeed } from "@/lib/live/keeper-feed";
import { type LinkStatus } from "@/lib/live/socket";

/** Follows the keeper's live feed when FEDCHAIN_FEED names one; status is null without a feed. */
export function useKeeperFeed(onEvent: (event: FeedEvent) => void): LinkStatus | null {
  const { feed } = useConfig();
  const [status, setStatus] = useState<LinkStatus>("connecting");
  const handler = useRef(onEvent);
  useEffect(() => {
    handler.current = onEvent;
  }, [onEvent]);
  useEffect(() => (feed ? watchKeeperFeed(feed, (event) => handler.current(event), setStatus) : undefined), [feed]);
  return feed ? status : null;
}
