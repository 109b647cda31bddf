"use client";

import { useConfig } from "@/components/providers/ConfigProvider";
import { type TaskResponse } from "@/lib/contract/types";
import { shortHash } from "@/lib/format";
import { gatewayUrl } from "@/lib/ipfs";

import { ClientDownload } from "./ClientDownload";
import { RunCommand } from "./RunCommand";

/** The task's code and starting model, content-addressed on IPFS and hashed on chain. */
export function TaskFiles({ task }: { task: TaskResponse }) {
  const { ipfsGateway } = useConfig();
  return (
    <section className="panel" aria-labelledby="files-heading">
      <h2 id="files-heading">client.py and model</h2>
      <dl className="facts compact small">
        <dt>client.py</dt>
        <dd>
          <a className="hash" href={gatewayUrl(ipfsGateway, task.client_cid)} target="_blank" rel="noreferrer">
            {shortHash(task.client_cid, 10)}
          </a>
          <div className="hash muted" title={task.client_sha256}>
            sha256 {shortHash(task.client_sha256, 10)}
          </div>
        </dd>
        <dt>Initial model</dt>
        <dd>
          <a className="hash" href={gatewayUrl(ipfsGateway, task.initial_model_cid)} target="_blank" rel="noreferrer">
            {shortHash(task.initial_model_cid, 10)}
          </a>
          <div className="hash muted" title={task.initial_model_sha256}>
            sha256 {shortHash(task.initial_model_sha256, 10)}
          </div>
        </dd>
      </dl>
      <div style={{ margin: "0.75rem 0" }}>
        <ClientDownload task={task} />
      </div>
      <RunCommand taskId={task.id} />
    </section>
  );
}
