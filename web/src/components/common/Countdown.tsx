"use client";

import { useNow } from "@/components/providers/ClockProvider";
import { formatDuration, formatTime } from "@/lib/format";

/** Time left until a deadline (unix seconds), ticking; once past, how long ago. */
export function Countdown({ deadline, passedLabel = "passed" }: { deadline: number; passedLabel?: string }) {
  const now = useNow();
  const left = deadline - now;
  return (
    <time className={`countdown ${left <= 0 ? "passed" : left < 300 ? "soon" : ""}`} dateTime={new Date(deadline * 1000).toISOString()} title={formatTime(deadline)}>
      {left > 0 ? `in ${formatDuration(left)}` : `${passedLabel} ${formatDuration(-left)} ago`}
    </time>
  );
}
