"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";

import { useConfig } from "@/components/providers/ConfigProvider";
import { type RoundResponse } from "@/lib/contract/types";
import { decimalToNumber, formatTime, shortHash } from "@/lib/format";
import { gatewayUrl } from "@/lib/ipfs";

/** Each attested round: its metrics (the task's metric, `metricName`, and the loss), the global
 * model it produced (CID on IPFS + sha256) and, on a measured task, the keeper's score table
 * behind its weights. */
export function RoundsTable({ rounds, metricName }: { rounds: RoundResponse[]; metricName: string }) {
  const { ipfsGateway } = useConfig();
  if (rounds.length === 0) return null;
  return (
    <div className="table-wrap">
      <table data-testid="rounds-table">
        <thead>
          <tr>
            <th className="num">Round</th>
            <th className="num" data-testid="rounds-metric-header">{metricName}</th>
            <th className="num">Loss</th>
            <th className="num wide-only">Examples</th>
            <th className="num wide-only">Contributors</th>
            <th>Global model</th>
            <th className="wide-only">Attested</th>
          </tr>
        </thead>
        <tbody>
          <AnimatePresence initial={false}>
            {rounds.map((round) => (
              <m.tr
                key={round.round}
                data-testid={`round-row-${round.round}`}
                initial={{ opacity: 0, backgroundColor: "rgba(255, 214, 10, 0.5)" }}
                animate={{ opacity: 1, backgroundColor: "rgba(255, 214, 10, 0)" }}
                transition={{ duration: 1.2 }}
              >
                <td className="num">{round.round}</td>
                <td className="num">{decimalToNumber(round.metrics.value).toFixed(4)}</td>
                <td className="num">{decimalToNumber(round.metrics.loss).toFixed(4)}</td>
                <td className="num wide-only">{round.metrics.examples.toLocaleString("en-US")}</td>
                <td className="num wide-only">{round.contributors_count}</td>
                <td>
                  <a href={gatewayUrl(ipfsGateway, round.model_cid)} target="_blank" rel="noreferrer" className="hash" data-testid="model-cid">
                    {shortHash(round.model_cid, 10)}
                  </a>
                  <div className="hash muted" title={`sha256 ${round.model_sha256}`}>
                    sha256 {shortHash(round.model_sha256, 8)}
                  </div>
                  {round.scores_cid ? (
                    <a href={gatewayUrl(ipfsGateway, round.scores_cid)} target="_blank" rel="noreferrer" className="small" data-testid="scores-cid">
                      score table
                    </a>
                  ) : null}
                </td>
                <td className="small wide-only">
                  {formatTime(round.submitted_at)}
                  <div className="muted">block {round.height}</div>
                </td>
              </m.tr>
            ))}
          </AnimatePresence>
        </tbody>
      </table>
    </div>
  );
}
