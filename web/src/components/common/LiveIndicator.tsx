import { type LinkStatus } from "@/lib/live/socket";

const TEXT: Record<LinkStatus, string> = { connecting: "connecting…", live: "live", offline: "reconnecting…" };

/** Whether a live source (chain events, keeper feed) is connected. */
export function LiveIndicator({ label, status }: { label: string; status: LinkStatus }) {
  return (
    <span className={`live-indicator ${status}`} data-live={status} aria-label={`${label}: ${TEXT[status]}`}>
      <span className="dot" aria-hidden /> {label} {TEXT[status]}
    </span>
  );
}
