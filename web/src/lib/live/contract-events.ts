// The contract's own event stream: a CometBFT WebSocket subscription to every transaction that
// touched the task_hub contract (`tm.event='Tx' AND wasm._contract_address='…'`). Each `wasm`
// event carries `action` and `task_id` (task_hub v2), which is all the page needs to know what
// to re-read. One socket per contract, shared by every component that listens.

import { type LinkStatus, openReconnectingSocket } from "@/lib/live/socket";

export interface ContractEvent {
  action: string;
  taskId: number | null;
  attributes: Readonly<Record<string, string>>;
  txHash: string;
  height: number;
}

interface EventAttribute {
  key: string;
  value: string;
}

interface TxEventMessage {
  result?: {
    data?: {
      value?: {
        TxResult?: { height?: string; result?: { events?: { type: string; attributes?: EventAttribute[] }[] } };
      };
    };
    events?: Record<string, string[] | undefined>;
  };
}

export function contractEventsOf(message: TxEventMessage, contract: string): ContractEvent[] {
  const txResult = message.result?.data?.value?.TxResult;
  if (!txResult) return [];
  const txHash = message.result?.events?.["tx.hash"]?.[0] ?? "";
  const height = Number(txResult.height ?? 0);
  return (txResult.result?.events ?? [])
    .filter((event) => event.type === "wasm")
    .map((event) => Object.fromEntries((event.attributes ?? []).map(({ key, value }) => [key, value])))
    .filter((attributes) => attributes._contract_address === contract)
    .map((attributes) => ({
      action: attributes.action ?? "",
      taskId: attributes.task_id === undefined ? null : Number(attributes.task_id),
      attributes,
      txHash,
      height,
    }));
}

type Listener = { onEvent: (event: ContractEvent) => void; onStatus: (status: LinkStatus) => void };

interface Channel {
  listeners: Set<Listener>;
  status: LinkStatus;
  close: () => void;
}

const channels = new Map<string, Channel>();

export function websocketUrl(rpcUrl: string): string {
  return `${rpcUrl.replace(/^http/, "ws")}/websocket`;
}

/** Calls `onEvent` for each wasm event of `contract`; returns the unsubscribe function. */
export function watchContractEvents(
  rpcUrl: string,
  contract: string,
  onEvent: Listener["onEvent"],
  onStatus: Listener["onStatus"] = () => {},
): () => void {
  const key = `${rpcUrl}|${contract}`;
  let channel = channels.get(key);
  if (!channel) {
    const created: Channel = { listeners: new Set(), status: "connecting", close: () => {} };
    created.close = openReconnectingSocket({
      url: websocketUrl(rpcUrl),
      greeting: JSON.stringify({
        jsonrpc: "2.0",
        method: "subscribe",
        id: 1,
        params: { query: `tm.event='Tx' AND wasm._contract_address='${contract}'` },
      }),
      onMessage: (data) => {
        const events = contractEventsOf(JSON.parse(data) as TxEventMessage, contract);
        for (const event of events) for (const listener of created.listeners) listener.onEvent(event);
      },
      onStatus: (status) => {
        created.status = status;
        for (const listener of created.listeners) listener.onStatus(status);
      },
    });
    channels.set(key, created);
    channel = created;
  }
  const listener: Listener = { onEvent, onStatus };
  channel.listeners.add(listener);
  onStatus(channel.status);
  const subscribed = channel;
  return () => {
    subscribed.listeners.delete(listener);
    if (subscribed.listeners.size === 0) {
      subscribed.close();
      channels.delete(key);
    }
  };
}
