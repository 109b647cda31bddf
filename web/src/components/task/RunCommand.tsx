"use client";

import { useState } from "react";

import { CopyButton } from "@/components/common/CopyButton";
import { useAccount } from "@/components/providers/WalletProvider";

/**
 * The exact commands that run the task's client.py, with the trainer's data folder and key name:
 * the file just saved, run as is, or the same through the fedchain CLI (which fetches and checks it).
 */
export function RunCommand({ taskId }: { taskId: number }) {
  const account = useAccount();
  const [dataDir, setDataDir] = useState("./data");
  const [keyName, setKeyName] = useState<string | null>(null);
  const key = keyName ?? account?.keyName ?? "my-key";
  const quote = (value: string) => (/^[\w./~-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);
  const command = `python client.py --task ${taskId} --data ${quote(dataDir)} --key ${quote(key)}`;
  const viaCli = `fedchain trainer train ${taskId} --key ${quote(key)} --data ${quote(dataDir)}`;
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
      <p className="field-hint">Or, with the fedchain CLI installed (it fetches client.py by CID and checks it too):</p>
      <div className="command">
        <code data-testid="run-command-cli">{viaCli}</code>
        <CopyButton text={viaCli} label="Copy command" />
      </div>
      <p className="field-hint">
        Before anything of the task runs, the bytes of client.py are checked against the sha256 on chain and the key against
        this task&apos;s stakes; the task&apos;s own code then runs sandboxed (no key, no network), and your data never
        leaves your machine.
      </p>
    </div>
  );
}
