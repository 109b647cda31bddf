"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { useConfig } from "@/components/providers/ConfigProvider";
import { type SlashReason, type SlashResponse } from "@/lib/contract/types";
import { formatTime, shortHash } from "@/lib/format";
import { gatewayUrl } from "@/lib/ipfs";

export const SLASH_REASONS: Record<SlashReason, string> = {
  non_finite: "update held NaN or infinite values",
  wrong_shape: "update did not have the model's layer shapes",
  norm_exceeded: "update norm above the task's bound",
  equivocation: "two different signed updates for one round",
  invalid_update: "update could not be read as the task's model",
};

/** The trainer's signed claim, decoded: its kind (the contract accepts only updates) and which chain, task and round it signed for. */
function claimSummary(payloadBase64: string): string {
  try {
    const claim = JSON.parse(atob(payloadBase64)) as Record<string, unknown>;
    return `${String(claim.kind)} claim signed for task ${String(claim.task_id)}, round ${String(claim.round)} on ${String(claim.chain_id)}`;
  } catch {
    return "signed claim (not JSON)";
  }
}

/** Every slash with its reason, the keeper's detail, and the evidence anyone can re-check. */
export function SlashesList({ slashes, denom }: { slashes: SlashResponse[]; denom: string }) {
  const { ipfsGateway } = useConfig();
  if (slashes.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="slashes-heading">
      <h2 id="slashes-heading">Slashes</h2>
      <ul style={{ listStyle: "none", margin: 0, padding: 0 }} data-testid="slashes">
        <AnimatePresence initial={false}>
          {slashes.map((slash) => (
            <m.li
              key={`${slash.trainer}:${slash.round}`}
              className="notice error"
              data-testid="slash"
              initial={{ opacity: 0, x: -12 }}
              animate={{ opacity: 1, x: 0 }}
            >
              <div className="spread">
                <strong>
                  <AddressText address={slash.trainer} /> slashed in round {slash.round}
                </strong>
                <span>
                  forfeit <Amount amount={slash.forfeit} denom={denom} />
                </span>
              </div>
              <dl className="facts compact">
                <dt>Reason</dt>
                <dd data-testid="slash-reason">
                  <code>{slash.reason}</code>: {SLASH_REASONS[slash.reason]}
                </dd>
                {slash.detail && (
                  <>
                    <dt>Detail</dt>
                    <dd data-testid="slash-detail">{slash.detail}</dd>
                  </>
                )}
                <dt>Evidence</dt>
                <dd>
                  update{" "}
                  <a href={gatewayUrl(ipfsGateway, slash.update_cid)} target="_blank" rel="noreferrer" className="hash" data-testid="slash-evidence">
                    {shortHash(slash.update_cid, 10)}
                  </a>
                  ; {claimSummary(slash.claim.payload)}
                  {slash.conflicting_claim && "; with a conflicting second claim"}
                </dd>
                <dt>When</dt>
                <dd className="small">
                  {formatTime(slash.slashed_at)}, block {slash.height}
                </dd>
              </dl>
            </m.li>
          ))}
        </AnimatePresence>
      </ul>
    </section>
  );
}
