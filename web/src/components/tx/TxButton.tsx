"use client";

import { type ReactNode } from "react";

import { type TxOutcome } from "@/lib/wallet/signer";

import { TxDialog } from "./TxDialog";
import { type TxIntent, useTxFlow } from "./useTxFlow";

interface TxButtonProps {
  /** Built when the button is pressed, so it reflects the form as it is then. */
  intent: () => TxIntent;
  children: ReactNode;
  onSuccess?: (outcome: TxOutcome) => void | Promise<void>;
  disabled?: boolean;
  variant?: "primary" | "danger" | "plain";
}

/** A button that opens the transaction dialog for one contract call. */
export function TxButton({ intent, children, onSuccess, disabled, variant = "primary" }: TxButtonProps) {
  const { state, prepare, sign, close } = useTxFlow(onSuccess);
  return (
    <>
      <button
        className={`button ${variant === "plain" ? "" : variant}`}
        disabled={disabled || state.phase !== "idle"}
        onClick={() => void prepare(intent())}
      >
        {children}
      </button>
      <TxDialog state={state} onSign={() => void sign()} onClose={close} />
    </>
  );
}
