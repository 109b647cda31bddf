"use client";

import { useCallback, useEffect, useRef } from "react";

/**
 * Wraps a reload so that a burst of triggers (several events in one block) costs at most one
 * reload in flight plus one after it, never a queue of them.
 */
export function useCoalescedRefresh(reload: () => Promise<void>): () => void {
  const latest = useRef(reload);
  const running = useRef(false);
  const again = useRef(false);
  useEffect(() => {
    latest.current = reload;
  }, [reload]);
  const trigger = useCallback(() => {
    if (running.current) {
      again.current = true;
      return;
    }
    running.current = true;
    void (async () => {
      do {
        again.current = false;
        try {
          await latest.current();
        } catch {
          // A failed read leaves the last good view on screen; the next event or poll retries.
        }
      } while (again.current);
      running.current = false;
    })();
  }, []);
  return trigger;
}
