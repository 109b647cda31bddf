"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";

import { AddressText } from "@/components/common/AddressText";
import { type ActivityItem } from "@/hooks/useLiveTask";
import { type ContractEvent } from "@/lib/live/contract-events";
import { type FeedEvent } from "@/lib/live/keeper-feed";
import { shortHash } from "@/lib/format";

function Who({ address }: { address: string | null | undefined }) {
  return address ? <AddressText address={address} /> : <>a trainer</>;
}

function describeChainEvent(event: ContractEvent) {
  const { attributes: a } = event;
  switch (event.action) {
    case "create_task":
      return <>task created</>;
    case "accept_task":
      return <>keeper accepted the task and bonded</>;
    case "join_task":
      return <><Who address={a.trainer} /> joined</>;
    case "leave_task":
      return <><Who address={a.trainer} /> left</>;
    case "submit_round":
      return <>round {a.round} attested{a.metric && a.value ? `, ${a.metric} ${Number(a.value).toFixed(4)}` : ""}</>;
    case "slash":
      return <><Who address={a.trainer} /> slashed in round {a.round}: {a.reason}</>;
    case "finalize_task":
      return <>task finalized</>;
    case "cancel_task":
      return <>task cancelled by the organization</>;
    case "claim":
      return <><Who address={a.trainer ?? a.sender} /> claimed</>;
    case "sweep":
      return <>what was left went to the treasury</>;
    default:
      return <>{event.action}</>;
  }
}

function describeFeedEvent(event: FeedEvent) {
  switch (event.event) {
    case "trainer_connected":
      return <>node {event.node_id} connected, bound to <Who address={event.trainer} /></>;
    case "round_started":
      return <>round {event.round} sent to node {event.node_id}</>;
    case "update_accepted":
      return <>round {event.round}: update from <Who address={event.trainer} /> accepted</>;
    case "update_rejected":
      return <>round {event.round}: update from <Who address={event.trainer} /> rejected: {event.reason}{event.malicious ? " (slashable)" : ""}</>;
    case "round_attested":
      return <>round {event.round} attested: {event.accepted} accepted, {event.rejected} rejected, {event.metric} {event.value.toFixed(4)}</>;
    case "trainer_slashed":
      return <><Who address={event.trainer} /> slashed in round {event.round}: {event.reason}</>;
    case "task_finalized":
      return <>task finalized</>;
  }
}

/** What just happened to this task, newest first, from the chain's events and the keeper's feed. */
export function ActivityLog({ items }: { items: ActivityItem[] }) {
  return (
    <section className="panel" aria-labelledby="activity-heading">
      <h2 id="activity-heading">Live activity</h2>
      {items.length === 0 ? (
        <p className="muted small">Events appear here as they happen, without reloading the page.</p>
      ) : (
        <ul className="activity" data-testid="activity">
          <AnimatePresence initial={false}>
            {items.map((item) => (
              <m.li key={item.id} initial={{ opacity: 0, height: 0 }} animate={{ opacity: 1, height: "auto" }} data-source={item.source}>
                <span className="badge" style={{ marginRight: "0.4rem" }}>
                  {item.source === "chain" ? "chain" : "keeper"}
                </span>
                {item.source === "chain" ? describeChainEvent(item.event) : describeFeedEvent(item.event)}
                {item.source === "chain" && item.event.txHash && <span className="muted small hash"> · tx {shortHash(item.event.txHash, 6)}</span>}
              </m.li>
            ))}
          </AnimatePresence>
        </ul>
      )}
    </section>
  );
}
