"use client";

import { type ReactNode } from "react";

import { useTransactions } from "./TxProvider";
import { type OnTxSuccess, type TxIntent } from "./useTxFlow";

interface TxButtonProps {
  /** Built when the button is pressed, so it reflects the form as it is then. */
  intent: () => TxIntent;
  children: ReactNode;
  onSuccess?: OnTxSuccess;
  disabled?: boolean;
  variant?: "primary" | "danger" | "plain";
}

/** A button that opens the transaction dialog for one contract call. */
export function TxButton({ intent, children, onSuccess, disabled, variant = "primary" }: TxButtonProps) {
  const { start, busy } = useTransactions();
  return (
    <button className={`button ${variant === "plain" ? "" : variant}`} disabled={disabled || busy} onClick={() => start(intent(), onSuccess)}>
      {children}
    </button>
  );
}
