"use client";

import { useState } from "react";

import { CopyButton } from "@/components/common/CopyButton";
import { useAccount } from "@/components/providers/WalletProvider";

/**
 * The exact command that trains the task with its verified client.py, the trainer's data folder and key
 * name. Never `python client.py`: that file is the organization's code and, run directly, would run with the
 * trainer's keys, files and network.
 */
export function RunCommand({ taskId }: { taskId: number }) {
  const account = useAccount();
  const [dataDir, setDataDir] = useState("./data");
  const [keyName, setKeyName] = useState<string | null>(null);
  const key = keyName ?? account?.keyName ?? "my-key";
  const quote = (value: string) => (/^[\w./~-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);
  const command = `fedchain trainer train ${taskId} --key ${quote(key)} --data ${quote(dataDir)}`;
  return (
    <div>
      <div className="form-grid">
        <div>
          <label htmlFor="run-data">Your data folder</label>
          <input id="run-data" value={dataDir} onChange={(event) => setDataDir(event.target.value)} />
        </div>
        <div>
          <label htmlFor="run-key">Key name</label>
          <input id="run-key" value={key} onChange={(event) => setKeyName(event.target.value)} />
        </div>
      </div>
      <div className="command" style={{ marginTop: "0.6rem" }}>
        <code data-testid="run-command">{command}</code>
        <CopyButton text={command} label="Copy command" />
      </div>
      <p className="field-hint">
        The fedchain CLI fetches client.py by CID and checks its bytes against the sha256 on chain, and your key against
        this task&apos;s stakes, before anything of the task runs; the task&apos;s own code then runs sandboxed (no key,
        no network), and your data never leaves your machine. Do not run client.py yourself: it is the
        organization&apos;s code.
      </p>
    </div>
  );
}
