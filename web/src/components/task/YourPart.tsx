"use client";

import { useNow } from "@/components/providers/ClockProvider";
import { useAccount, useWallet } from "@/components/providers/WalletProvider";
import { chainPassed, finalizeAllowed, isCommitted, standingOf, type TaskView } from "@/lib/contract/task-view";

import { CancelPanel } from "./actions/CancelPanel";
import { ClaimPanel } from "./actions/ClaimPanel";
import { FinalizePanel } from "./actions/FinalizePanel";
import { JoinPanel } from "./actions/JoinPanel";
import { LeavePanel } from "./actions/LeavePanel";
import { SweepPanel } from "./actions/SweepPanel";

/** What the connected account can do on this task, given its role and the task's status. */
export function YourPart({ view, onChanged }: { view: TaskView; onChanged: () => void }) {
  const account = useAccount();
  const { connect, wallet } = useWallet();
  const now = useNow();
  const { task } = view;

  if (!account) {
    return (
      <section className="panel" data-testid="your-part">
        <h2>Your part</h2>
        <p className="muted">Connect a wallet to join this task, follow your standing and claim.</p>
        <button className="button primary" onClick={() => void connect()} disabled={wallet.status === "connecting"}>
          Connect wallet
        </button>
      </section>
    );
  }

  const me = view.participants.find((participant) => participant.trainer === account.address) ?? null;
  const isOrganization = account.address === task.organization;
  const isKeeper = account.address === task.keeper;
  const settled = task.status === "finalized" || task.status === "cancelled";
  const committed = isCommitted(task, now);
  const sweepAllowed = settled && !task.swept && task.settled_at != null && chainPassed(now, task.settled_at + task.claim_window_secs);

  return (
    <section className="panel" data-testid="your-part">
      <h2>Your part</h2>
      <p className="small" data-testid="your-role">
        {isOrganization
          ? "You are this task's organization."
          : isKeeper
            ? "You are this task's keeper."
            : me
              ? `You joined this task (${standingOf(me, task)}).`
              : "You are not part of this task."}
      </p>
      {isOrganization && (task.status === "proposed" || task.status === "open") && !committed && (
        <CancelPanel task={task} onDone={onChanged} />
      )}
      {committed && (isOrganization || me) && (
        <p className="notice info small" data-testid="committed">
          The task is full or its joins closed with enough trainers: the keeper is committed to run it, so it can no longer be
          cancelled or left.
        </p>
      )}
      {(isOrganization || isKeeper) && task.status === "open" && (
        <p className="muted small">A task&apos;s organization and keeper cannot train in it: the contract keeps the roles apart.</p>
      )}
      {!me && !isOrganization && !isKeeper && task.status === "open" && <JoinPanel task={task} onDone={onChanged} />}
      {!me && task.status === "proposed" && !isOrganization && (
        <p className="muted small">Trainers can join once the keeper accepts the task and bonds.</p>
      )}
      {me && task.status === "open" && !committed && <LeavePanel task={task} participant={me} onDone={onChanged} />}
      {me && settled && <ClaimPanel task={task} participant={me} onDone={onChanged} />}
      {finalizeAllowed(task, now) && <FinalizePanel task={task} onDone={onChanged} />}
      {sweepAllowed && <SweepPanel task={task} onDone={onChanged} />}
    </section>
  );
}
