"use client";

import { AddressText } from "@/components/common/AddressText";
import { Amount } from "@/components/common/Amount";
import { Flash } from "@/components/common/Flash";
import { useConfig } from "@/components/providers/ConfigProvider";
import { useWallet } from "@/components/providers/WalletProvider";

/** Connect / the connected account's address and balance. */
export function WalletButton() {
  const { denom } = useConfig();
  const { wallet, connect, disconnect } = useWallet();
  if (wallet.status === "connected") {
    return (
      <span className="row small" data-testid="wallet-account">
        <AddressText address={wallet.address} />
        <span data-testid="wallet-balance">
          {wallet.balance === null ? "balance unknown" : (
            <Flash value={wallet.balance.toString()}>
              <Amount amount={wallet.balance} denom={denom} />
            </Flash>
          )}
        </span>
        <button className="button small" onClick={disconnect}>
          Disconnect
        </button>
      </span>
    );
  }
  return (
    <span className="row small">
      {wallet.status === "disconnected" && wallet.error && (
        <span className="muted" role="alert" data-testid="wallet-error">
          {wallet.error}
        </span>
      )}
      <button className="button primary" onClick={() => void connect()} disabled={wallet.status === "connecting"}>
        {wallet.status === "connecting" ? "Connecting…" : "Connect wallet"}
      </button>
    </span>
  );
}
