"use client";

import { createContext, type ReactNode, useContext, useMemo } from "react";

import { TxDialog } from "./TxDialog";
import { type OnTxSuccess, type TxIntent, useTxFlow } from "./useTxFlow";

interface TxContextValue {
  /** Opens the transaction dialog for `intent`; `onSuccess` runs once it is included and succeeded. */
  start: (intent: TxIntent, onSuccess?: OnTxSuccess) => void;
  busy: boolean;
}

const TxContext = createContext<TxContextValue | null>(null);

/**
 * One transaction dialog for the whole app. It lives above the pages so that a transaction's
 * outcome stays on screen even when the chain change it caused re-renders (and removes) the
 * panel that started it, e.g. the join panel once the trainer has joined.
 */
export function TxProvider({ children }: { children: ReactNode }) {
  const { state, prepare, sign, close } = useTxFlow();
  const value = useMemo(
    () => ({ start: (intent: TxIntent, onSuccess?: OnTxSuccess) => void prepare(intent, onSuccess), busy: state.phase !== "idle" }),
    [prepare, state.phase],
  );
  return (
    <TxContext.Provider value={value}>
      {children}
      <TxDialog state={state} onSign={() => void sign()} onClose={close} />
    </TxContext.Provider>
  );
}

export function useTransactions(): TxContextValue {
  const value = useContext(TxContext);
  if (!value) throw new Error("TxProvider is missing above this component");
  return value;
}
