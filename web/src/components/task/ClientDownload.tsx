"use client";

import { useEffect, useState } from "react";

import { useConfig } from "@/components/providers/ConfigProvider";
import { type TaskResponse } from "@/lib/contract/types";
import { messageOf } from "@/lib/errors";
import { gatewayUrl } from "@/lib/ipfs";
import { sha256Hex } from "@/lib/sha256";

type Check =
  | { state: "idle" }
  | { state: "checking" }
  | { state: "verified"; objectUrl: string; size: number }
  | { state: "mismatch"; actual: string }
  | { state: "unavailable"; reason: string };

/**
 * Fetches client.py by the CID on chain, hashes it in the browser and offers it only when the
 * sha256 equals the one on chain: a gateway (or anyone between) serving other bytes is refused.
 */
export function ClientDownload({ task }: { task: TaskResponse }) {
  const { ipfsGateway } = useConfig();
  const [check, setCheck] = useState<Check>({ state: "idle" });

  useEffect(() => () => {
    if (check.state === "verified") URL.revokeObjectURL(check.objectUrl);
  }, [check]);

  const verify = async () => {
    setCheck({ state: "checking" });
    try {
      const response = await fetch(gatewayUrl(ipfsGateway, task.client_cid), { cache: "no-store" });
      if (!response.ok) throw new Error(`the gateway answered HTTP ${response.status}`);
      const bytes = await response.arrayBuffer();
      const actual = await sha256Hex(bytes);
      if (actual !== task.client_sha256) {
        setCheck({ state: "mismatch", actual });
        return;
      }
      const objectUrl = URL.createObjectURL(new Blob([bytes], { type: "text/x-python" }));
      setCheck({ state: "verified", objectUrl, size: bytes.byteLength });
    } catch (error) {
      setCheck({ state: "unavailable", reason: messageOf(error) });
    }
  };

  return (
    <div data-testid="client-download" data-state={check.state}>
      {check.state === "verified" ? (
        <div className="notice success">
          sha256 matches the chain ({check.size.toLocaleString("en-US")} bytes).{" "}
          <a className="button primary small" href={check.objectUrl} download="client.py" data-testid="save-client">
            Save client.py
          </a>
        </div>
      ) : (
        <button className="button" onClick={() => void verify()} disabled={check.state === "checking"}>
          {check.state === "checking" ? "Fetching and hashing…" : "Get client.py (checked against the chain)"}
        </button>
      )}
      {check.state === "mismatch" && (
        <div className="notice error" role="alert" data-testid="client-refused">
          <strong>Refused:</strong> the file served for this CID does not match the hash on chain, so it is not offered.
          <div className="hash small">chain: {task.client_sha256}</div>
          <div className="hash small">served: {check.actual}</div>
        </div>
      )}
      {check.state === "unavailable" && (
        <div className="notice warn" role="alert">
          client.py could not be fetched from the gateway: {check.reason}
        </div>
      )}
    </div>
  );
}
