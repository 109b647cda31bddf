"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { Flash } from "@/components/common/Flash";
import { useAccount } from "@/components/providers/WalletProvider";
import { payoutOf, standingOf, type TaskView } from "@/lib/contract/task-view";
import { formatPercent, shortHash } from "@/lib/format";

/** Who joined, how much each contributed (weight), and what each is paid or lost. */
export function ParticipantsTable({ view }: { view: TaskView }) {
  const { task, participants } = view;
  const me = useAccount()?.address;
  const totalWeight = Number(task.total_weight);
  const standings = participants.map((participant) => standingOf(participant, task));
  const count = (standing: string) => standings.filter((value) => value === standing).length;

  return (
    <section className="panel" aria-labelledby="participants-heading">
      <h2 id="participants-heading">Trainers</h2>
      <p className="muted small" data-testid="participants-summary">
        {participants.length} joined · {count("contributor")} contributed · {count("no-show")} no-show
        {count("no-show") === 1 ? "" : "s"} · {count("slashed")} slashed
      </p>
      {participants.length > 0 && (
        <div className="table-wrap">
          <table data-testid="participants-table">
            <thead>
              <tr>
                <th>Trainer</th>
                <th>Standing</th>
                <th className="num">Weight</th>
                <th className="num wide-only">Stake</th>
                <th className="num">Payout</th>
              </tr>
            </thead>
            <tbody>
              <AnimatePresence initial={false}>
                {participants.map((participant, index) => {
                  const standing = standings[index]!;
                  const payout = payoutOf(participant, task);
                  const share = totalWeight > 0 ? Number(participant.weight) / totalWeight : 0;
                  return (
                    <m.tr
                      key={participant.trainer}
                      data-testid="participant-row"
                      data-trainer={participant.trainer}
                      initial={{ opacity: 0 }}
                      animate={{ opacity: 1 }}
                      exit={{ opacity: 0 }}
                    >
                      <td>
                        <AddressText address={participant.trainer} you={participant.trainer === me} />
                        {participant.node_public_key && (
                          <div className="muted small hash" title={participant.node_public_key}>
                            node {shortHash(participant.node_public_key, 6)}
                          </div>
                        )}
                      </td>
                      <td className={`standing-${standing.replaceAll(" ", "-")}`} data-testid="standing">
                        <Flash value={standing}>{standing}</Flash>
                      </td>
                      <td className="num">
                        <Flash value={participant.weight}>
                          {participant.weight}
                          {share > 0 && <div className="muted small">{formatPercent(share)}</div>}
                        </Flash>
                      </td>
                      <td className="num wide-only">
                        <Amount amount={participant.stake} denom={task.denom} />
                      </td>
                      <td className="num" data-testid="payout">
                        {participant.claimed ? (
                          <>
                            <Amount amount={participant.claimed_amount} denom={task.denom} />
                            <div className="muted small">claimed</div>
                          </>
                        ) : payout ? (
                          <>
                            <Amount amount={payout.total} denom={task.denom} />
                            <div className="muted small">
                              due{payout.penalty > 0n && <> (−<Amount amount={payout.penalty} denom={task.denom} />)</>}
                            </div>
                          </>
                        ) : (
                          <span className="muted" title="paid at settlement">pending</span>
                        )}
                      </td>
                    </m.tr>
                  );
                })}
              </AnimatePresence>
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
