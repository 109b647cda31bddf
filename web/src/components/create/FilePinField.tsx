"use client";

import { useId, useState } from "react";

import { declaredMetric } from "@/lib/client-settings";
import { type TaskMetric } from "@/lib/contract/types";
import { messageOf } from "@/lib/errors";
import { shortHash } from "@/lib/format";
import { sha256Hex } from "@/lib/sha256";
import { FILE_LABELS, fileProblem, MAX_FILE_BYTES, type TaskFileKind } from "@/lib/task-files";

export interface PinnedFile {
  name: string;
  cid: string;
  size: number;
  sha256: string;
  /** client.py: the metric its SETTINGS declare (what its rounds report); null for the model. */
  metric: TaskMetric | null;
}

type PinState =
  | { state: "empty" }
  | { state: "pinning"; name: string }
  | { state: "pinned"; file: PinnedFile }
  | { state: "failed"; reason: string };

interface PinAnswer {
  cid?: string;
  size?: number;
  sha256?: string;
  error?: string;
}

/**
 * Picks a file, checks it, hashes it in the browser, and pins it through the app's own server
 * route; the pin counts only if the server's sha256 of what it pinned equals the browser's.
 * A client.py whose SETTINGS (and so its metric) cannot be read is refused before pinning: the
 * keeper would refuse its task.
 */
export function FilePinField({ kind, onPinned }: { kind: TaskFileKind; onPinned: (file: PinnedFile | null) => void }) {
  const inputId = useId();
  const [pin, setPin] = useState<PinState>({ state: "empty" });

  const choose = async (file: File | undefined) => {
    onPinned(null);
    if (!file) return setPin({ state: "empty" });
    setPin({ state: "pinning", name: file.name });
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const problem = fileProblem(kind, bytes);
      if (problem) throw new Error(problem);
      let metric: TaskMetric | null = null;
      if (kind === "client") {
        const declared = declaredMetric(new TextDecoder().decode(bytes));
        if ("problem" in declared) throw new Error(declared.problem);
        metric = declared.metric;
      }
      const localSha256 = await sha256Hex(bytes);
      const form = new FormData();
      form.append("kind", kind);
      form.append("file", file);
      const response = await fetch("/api/pin", { method: "POST", body: form });
      const answer = (await response.json()) as PinAnswer;
      if (!response.ok || !answer.cid || !answer.sha256 || answer.size === undefined) {
        throw new Error(answer.error ?? `pinning failed (HTTP ${response.status})`);
      }
      if (answer.sha256 !== localSha256 || answer.size !== bytes.byteLength) {
        throw new Error("the server pinned different bytes than this browser read");
      }
      const pinned = { name: file.name, cid: answer.cid, size: answer.size, sha256: answer.sha256, metric };
      setPin({ state: "pinned", file: pinned });
      onPinned(pinned);
    } catch (error) {
      setPin({ state: "failed", reason: messageOf(error) });
    }
  };

  return (
    <div data-testid={`pin-${kind}`} data-state={pin.state}>
      <label htmlFor={inputId}>{FILE_LABELS[kind]}</label>
      <input
        id={inputId}
        type="file"
        accept={kind === "client" ? ".py,text/x-python" : ".safetensors"}
        onChange={(event) => void choose(event.target.files?.[0])}
      />
      <div className="field-hint">
        Up to {(MAX_FILE_BYTES[kind] / 1024 / 1024).toFixed(0)} MiB; pinned to IPFS by this app&apos;s server.
      </div>
      {pin.state === "pinning" && <p className="status-line pending">Hashing and pinning {pin.name}…</p>}
      {pin.state === "pinned" && (
        <div className="notice success small">
          Pinned {pin.file.name} ({pin.file.size.toLocaleString("en-US")} bytes)
          <div className="hash" data-testid={`pin-${kind}-cid`}>
            CID {pin.file.cid}
          </div>
          <div className="hash" title={pin.file.sha256}>
            sha256 {shortHash(pin.file.sha256, 12)} (checked in this browser)
          </div>
        </div>
      )}
      {pin.state === "failed" && (
        <p className="notice error small" role="alert">
          Not pinned: {pin.reason}
        </p>
      )}
    </div>
  );
}
