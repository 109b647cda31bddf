"use client";

import { useState } from "react";

import { CopyButton } from "@/components/common/CopyButton";
import { useAccount } from "@/components/providers/WalletProvider";

/** The exact command that trains the task with its verified client.py, the trainer's data folder and key
 * name. Never `python client.py`: that file is the organization's code and would run with the trainer's keys. */
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
        client.py checks its own sha256 against the chain, that the key staked into this task, and that the data fits the
        model before it connects to the keeper. Your data never leaves your machine.
      </p>
    </div>
  );
}
