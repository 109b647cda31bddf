"use client";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { CopyButton } from "@/components/common/CopyButton";
import { useConfig } from "@/components/providers/ConfigProvider";
import { useWallet } from "@/components/providers/WalletProvider";
import { formatBps, formatTime } from "@/lib/format";

import { MyTasks } from "./MyTasks";
import { RegisterPanel } from "./RegisterPanel";

/** The connected account: wallet, balance, task_hub profile and roles, and its tasks. */
export function AccountView() {
  const { denom, chainId } = useConfig();
  const { wallet, connect } = useWallet();
  if (wallet.status !== "connected") {
    return (
      <div className="panel">
        <p>Connect a Keplr-compatible wallet. If it does not know {chainId} yet, the app offers to add it.</p>
        {wallet.status === "disconnected" && wallet.error && <p className="notice error">{wallet.error}</p>}
        <button className="button primary" onClick={() => void connect()} disabled={wallet.status === "connecting"}>
          Connect wallet
        </button>
      </div>
    );
  }
  const { profile } = wallet;
  return (
    <>
      <section className="panel" data-testid="account-wallet">
        <h2>Wallet</h2>
        <dl className="facts">
          <dt>Address</dt>
          <dd className="row">
            <code className="hash" data-testid="account-address">{wallet.address}</code>
            <CopyButton text={wallet.address} label="Copy address" />
          </dd>
          <dt>Key</dt>
          <dd>{wallet.keyName}</dd>
          <dt>Balance</dt>
          <dd data-testid="account-balance">{wallet.balance === null ? "unknown" : <Amount amount={wallet.balance} denom={denom} />}</dd>
          <dt>Network</dt>
          <dd>
            {chainId}
            {wallet.suggestedChain && <span className="muted small"> (added to your wallet just now)</span>}
          </dd>
        </dl>
      </section>
      <section className="panel" data-testid="account-profile">
        <h2>Profile on task_hub</h2>
        {profile ? (
          <dl className="facts">
            <dt>Name</dt>
            <dd>{profile.name}</dd>
            <dt>Roles</dt>
            <dd data-testid="profile-roles">
              {[profile.is_organization && "organization", profile.is_trainer && "trainer", profile.keeper && "keeper"].filter(Boolean).join(", ") || "none"}
            </dd>
            <dt>Registered</dt>
            <dd>{formatTime(profile.registered_at)}</dd>
            <dt>Record</dt>
            <dd>
              {profile.tasks_created} task(s) created, {profile.tasks_joined} joined, {profile.tasks_completed} completed,{" "}
              {profile.no_shows} no-show(s), {profile.slashed} slash(es)
            </dd>
            {profile.keeper && (
              <>
                <dt>Keeper</dt>
                <dd>
                  {profile.keeper.endpoint}, fee {formatBps(profile.keeper.fee_bps)}; {profile.keeper.tasks_accepted} accepted,{" "}
                  {profile.keeper.rounds_attested} rounds attested, {profile.keeper.tasks_failed} failed
                </dd>
              </>
            )}
          </dl>
        ) : (
          <p className="muted">
            <AddressText address={wallet.address} /> is not registered yet.
          </p>
        )}
        <div className="form-grid" style={{ marginTop: "0.75rem" }}>
          {!profile?.is_trainer && <RegisterPanel as="trainer" />}
          {!profile?.is_organization && <RegisterPanel as="organization" />}
        </div>
      </section>
      {profile && <MyTasks address={wallet.address} />}
    </>
  );
}
