// A WebSocket that comes back: reconnects with backoff after any close, re-sends its greeting
// (e.g. a subscription) on every open, and reports whether it is live. Shared by the chain's
// event subscription and the keeper's feed.

export type LinkStatus = "connecting" | "live" | "offline";

export interface ReconnectingSocketOptions {
  url: string;
  /** Sent on every (re)connection, e.g. a JSON-RPC subscribe call. */
  greeting?: string;
  onMessage: (data: string) => void;
  onStatus: (status: LinkStatus) => void;
  /** The longest wait between attempts (default 10 s). */
  maxBackoffMs?: number;
}

const MAX_BACKOFF_MS = 10_000;

export function openReconnectingSocket(options: ReconnectingSocketOptions): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;

  const connect = () => {
    if (closed) return;
    options.onStatus("connecting");
    try {
      socket = new WebSocket(options.url);
    } catch {
      scheduleRetry();
      return;
    }
    socket.onopen = () => {
      attempt = 0;
      if (options.greeting) socket?.send(options.greeting);
      options.onStatus("live");
    };
    socket.onmessage = (message: MessageEvent<unknown>) => {
      if (typeof message.data === "string") options.onMessage(message.data);
    };
    socket.onclose = () => {
      socket = null;
      if (!closed) scheduleRetry();
    };
    socket.onerror = () => socket?.close();
  };

  const scheduleRetry = () => {
    options.onStatus("offline");
    const delay = Math.min(options.maxBackoffMs ?? MAX_BACKOFF_MS, 500 * 2 ** attempt++);
    retryTimer = setTimeout(connect, delay);
  };

  connect();
  return () => {
    closed = true;
    if (retryTimer) clearTimeout(retryTimer);
    socket?.close();
  };
}
