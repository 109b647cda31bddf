"use client";

import { useEffect, useRef, useState } from "react";

import { useConfig } from "@/components/providers/ConfigProvider";
import { type ContractEvent, watchContractEvents } from "@/lib/live/contract-events";
import { type LinkStatus } from "@/lib/live/socket";

/** Follows the contract's wasm events from the chain's WebSocket; returns the link status. */
export function useContractEvents(onEvent: (event: ContractEvent) => void): LinkStatus {
  const { rpc, contract } = useConfig();
  const [status, setStatus] = useState<LinkStatus>("connecting");
  const handler = useRef(onEvent);
  useEffect(() => {
    handler.current = onEvent;
  }, [onEvent]);
  useEffect(() => watchContractEvents(rpc, contract, (event) => handler.current(event), setStatus), [rpc, contract]);
  return status;
}
