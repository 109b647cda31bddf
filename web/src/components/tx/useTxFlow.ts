"use client";

import { type StdFee } from "@cosmjs/stargate";
import { type ReactNode, useCallback, useRef, useState } from "react";

import { useWallet } from "@/components/providers/WalletProvider";
import { type ContractCall } from "@/lib/contract/task-hub";
import { explainError, type PlainError } from "@/lib/errors";
import { type TxOutcome } from "@/lib/wallet/signer";

/** What the user is asked to sign: a title, what it does in plain words, and the call itself. */
export interface TxIntent {
  title: string;
  effects: ReactNode[];
  call: ContractCall;
}

export type TxState =
  | { phase: "idle" }
  | { phase: "estimating"; intent: TxIntent }
  | { phase: "ready"; intent: TxIntent; fee: StdFee }
  /** The simulation was refused: nothing was signed or sent. */
  | { phase: "refused"; intent: TxIntent; error: PlainError }
  | { phase: "signing"; intent: TxIntent; fee: StdFee }
  | { phase: "pending"; intent: TxIntent; fee: StdFee; hash: string }
  | { phase: "succeeded"; intent: TxIntent; outcome: TxOutcome }
  | { phase: "failed"; intent: TxIntent; hash: string | null; error: PlainError };

/**
 * The life of one transaction: simulate (fee, or the contract's refusal) → the user signs →
 * pending with its hash → included, succeeded or failed with the chain's reason.
 */
export type OnTxSuccess = (outcome: TxOutcome) => void | Promise<void>;

export function useTxFlow() {
  const { signer, refresh } = useWallet();
  const [state, setState] = useState<TxState>({ phase: "idle" });
  const onSuccess = useRef<OnTxSuccess | undefined>(undefined);

  const prepare = useCallback(
    async (intent: TxIntent, whenDone?: OnTxSuccess) => {
      onSuccess.current = whenDone;
      setState({ phase: "estimating", intent });
      try {
        const fee = await (await signer()).estimateFee(intent.call);
        setState({ phase: "ready", intent, fee });
      } catch (error) {
        setState({ phase: "refused", intent, error: explainError(error) });
      }
    },
    [signer],
  );

  const sign = useCallback(async () => {
    if (state.phase !== "ready") return;
    const { intent, fee } = state;
    setState({ phase: "signing", intent, fee });
    let hash: string | null = null;
    try {
      const client = await signer();
      hash = await client.signAndSend(intent.call, fee);
      setState({ phase: "pending", intent, fee, hash });
      const outcome = await client.waitForInclusion(hash);
      if (outcome.code !== 0) {
        setState({ phase: "failed", intent, hash, error: explainError(outcome.log || `code ${outcome.code}`) });
      } else {
        setState({ phase: "succeeded", intent, outcome });
        await onSuccess.current?.(outcome);
      }
    } catch (error) {
      setState({ phase: "failed", intent, hash, error: explainError(error) });
    } finally {
      void refresh();
    }
  }, [state, signer, refresh]);

  const close = useCallback(() => setState({ phase: "idle" }), []);

  return { state, prepare, sign, close };
}
