"use client";

import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";

import { bankBalance } from "@/lib/chain/rest";
import { type ProfileResponse } from "@/lib/contract/types";
import { messageOf } from "@/lib/errors";
import { connectKeplr } from "@/lib/wallet/keplr";
import { type TaskHubSigner } from "@/lib/wallet/signer";

import { useConfig, useReader } from "./ConfigProvider";

export interface ConnectedAccount {
  address: string;
  /** The key's name in the wallet (e.g. `trainer1`): also what `client.py --key` is told. */
  keyName: string;
  balance: bigint | null;
  /** The account's task_hub profile; null when it never registered. */
  profile: ProfileResponse | null;
  /** Whether connecting had to add the chain to the wallet. */
  suggestedChain: boolean;
}

export type WalletState =
  | { status: "disconnected"; error: string | null }
  | { status: "connecting" }
  | ({ status: "connected" } & ConnectedAccount);

interface WalletContextValue {
  wallet: WalletState;
  connect: () => Promise<void>;
  disconnect: () => void;
  /** Re-reads balance and profile (after a transaction, for instance). */
  refresh: () => Promise<void>;
  /** The signing client for the connected account, loaded (with cosmjs) on first use. */
  signer: () => Promise<TaskHubSigner>;
}

const WalletContext = createContext<WalletContextValue | null>(null);
const REMEMBER_KEY = "fedchain.wallet.connected";
const BALANCE_REFRESH_MS = 15_000;

export function WalletProvider({ children }: { children: ReactNode }) {
  const config = useConfig();
  const reader = useReader();
  const [wallet, setWallet] = useState<WalletState>({ status: "disconnected", error: null });
  const signerRef = useRef<{ address: string; signer: Promise<TaskHubSigner> } | null>(null);
  const address = wallet.status === "connected" ? wallet.address : null;

  const readAccount = useCallback(
    async (accountAddress: string) => {
      const [balance, profile] = await Promise.all([
        bankBalance(config.rest, accountAddress, config.denom).catch(() => null),
        reader.profile(accountAddress).catch(() => null),
      ]);
      return { balance, profile };
    },
    [config.rest, config.denom, reader],
  );

  const connect = useCallback(async () => {
    setWallet({ status: "connecting" });
    try {
      const { key, suggestedChain } = await connectKeplr(config);
      const account = await readAccount(key.bech32Address);
      window.localStorage.setItem(REMEMBER_KEY, "1");
      setWallet({ status: "connected", address: key.bech32Address, keyName: key.name, suggestedChain, ...account });
    } catch (error) {
      setWallet({ status: "disconnected", error: messageOf(error) });
    }
  }, [config, readAccount]);

  const disconnect = useCallback(() => {
    window.localStorage.removeItem(REMEMBER_KEY);
    void signerRef.current?.signer.then((signer) => signer.disconnect());
    signerRef.current = null;
    setWallet({ status: "disconnected", error: null });
  }, []);

  const refresh = useCallback(async () => {
    if (!address) return;
    const account = await readAccount(address);
    setWallet((current) => (current.status === "connected" && current.address === address ? { ...current, ...account } : current));
  }, [address, readAccount]);

  const signer = useCallback(async () => {
    if (!address || !window.keplr) throw new Error("Connect a wallet first.");
    if (signerRef.current?.address !== address) {
      const keplr = window.keplr;
      const loading = (async () => {
        const { TaskHubSigner } = await import("@/lib/wallet/signer");
        return TaskHubSigner.connect(config, await keplr.getOfflineSignerAuto(config.chainId), address);
      })();
      signerRef.current = { address, signer: loading };
      loading.catch(() => (signerRef.current = null));
    }
    return signerRef.current.signer;
  }, [address, config]);

  // Reconnect silently after a reload when the user connected before (the wallet remembers the approval).
  useEffect(() => {
    if (!window.localStorage.getItem(REMEMBER_KEY)) return;
    // Deferred a tick: the wallet's injected script may still be setting `window.keplr` up.
    const timer = setTimeout(() => window.keplr && void connect(), 0);
    return () => clearTimeout(timer);
  }, [connect]);

  // Keplr announces an account switch with this window event.
  useEffect(() => {
    const onKeystoreChange = () => {
      signerRef.current = null;
      if (window.localStorage.getItem(REMEMBER_KEY)) void connect();
    };
    window.addEventListener("keplr_keystorechange", onKeystoreChange);
    return () => window.removeEventListener("keplr_keystorechange", onKeystoreChange);
  }, [connect]);

  useEffect(() => {
    if (!address) return;
    const timer = setInterval(() => void refresh(), BALANCE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [address, refresh]);

  const value = useMemo(() => ({ wallet, connect, disconnect, refresh, signer }), [wallet, connect, disconnect, refresh, signer]);
  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>;
}

export function useWallet(): WalletContextValue {
  const value = useContext(WalletContext);
  if (!value) throw new Error("WalletProvider is missing above this component");
  return value;
}

/** The connected account, or null. */
export function useAccount(): ConnectedAccount | null {
  const { wallet } = useWallet();
  return wallet.status === "connected" ? wallet : null;
}
