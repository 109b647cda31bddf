"use client";

import { createContext, type ReactNode, useContext, useEffect, useState } from "react";

const ClockContext = createContext<number | null>(null);

/**
 * One ticking clock (unix seconds) for every countdown on the page. It starts from the server's
 * render time, so the first browser render matches the HTML exactly, then ticks each second.
 */
export function ClockProvider({ renderedAt, children }: { renderedAt: number; children: ReactNode }) {
  const [now, setNow] = useState(renderedAt);
  useEffect(() => {
    const tick = () => setNow(Math.floor(Date.now() / 1000));
    tick();
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }, []);
  return <ClockContext.Provider value={now}>{children}</ClockContext.Provider>;
}

export function useNow(): number {
  const now = useContext(ClockContext);
  if (now === null) throw new Error("ClockProvider is missing above this component");
  return now;
}
