"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";
import { useEffect, useId } from "react";

import { CopyButton } from "@/components/common/CopyButton";
import { useConfig } from "@/components/providers/ConfigProvider";
import { formatAmount } from "@/lib/format";

import { type TxState } from "./useTxFlow";

interface TxDialogProps {
  state: TxState;
  onSign: () => void;
  onClose: () => void;
}

/** Shows what a transaction does and costs before it is signed, then its progress and outcome. */
export function TxDialog({ state, onSign, onClose }: TxDialogProps) {
  const titleId = useId();
  const busy = state.phase === "signing" || state.phase === "pending";

  useEffect(() => {
    if (state.phase === "idle" || busy) return;
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [state.phase, busy, onClose]);

  return (
    <AnimatePresence>
      {state.phase !== "idle" && (
        <m.div
          className="overlay"
          initial={{ opacity: 0 }}
          animate={{ opacity: 1 }}
          exit={{ opacity: 0 }}
          transition={{ duration: 0.15 }}
        >
          <m.div
            role="dialog"
            aria-modal="true"
            aria-labelledby={titleId}
            className="dialog"
            data-testid="tx-dialog"
            data-phase={state.phase}
            initial={{ y: 16, opacity: 0 }}
            animate={{ y: 0, opacity: 1 }}
            exit={{ y: 16, opacity: 0 }}
            transition={{ duration: 0.18 }}
          >
            <h2 id={titleId}>{state.intent.title}</h2>
            <TxBody state={state} />
            <div className="dialog-actions">
              {state.phase === "ready" && (
                <button className="button primary" onClick={onSign} autoFocus>
                  Sign in wallet
                </button>
              )}
              <button className="button" onClick={onClose} disabled={busy}>
                {state.phase === "succeeded" || state.phase === "failed" || state.phase === "refused" ? "Close" : "Cancel"}
              </button>
            </div>
          </m.div>
        </m.div>
      )}
    </AnimatePresence>
  );
}

function TxBody({ state }: { state: Exclude<TxState, { phase: "idle" }> }) {
  const { denom } = useConfig();
  const sends = state.intent.call.funds;
  return (
    <>
      <section aria-label="What this does">
        <h3 className="dialog-subtitle">What this does</h3>
        <ul className="effects">
          {state.intent.effects.map((effect, index) => (
            <li key={index}>{effect}</li>
          ))}
        </ul>
        <dl className="facts compact">
          <dt>You send</dt>
          <dd data-testid="tx-sends">
            {sends.length ? sends.map((coin) => formatAmount(coin.amount, coin.denom)).join(" + ") : "nothing"}
          </dd>
          <dt>Network fee</dt>
          <dd data-testid="tx-fee">
            {"fee" in state
              ? `${formatAmount(state.fee.amount[0]?.amount ?? "0", state.fee.amount[0]?.denom ?? denom)} (gas limit ${state.fee.gas})`
              : state.phase === "estimating"
                ? "estimating…"
                : "—"}
          </dd>
        </dl>
      </section>
      <TxStatus state={state} />
    </>
  );
}

function TxStatus({ state }: { state: Exclude<TxState, { phase: "idle" }> }) {
  switch (state.phase) {
    case "estimating":
      return <p className="status-line">Simulating the transaction to compute its fee…</p>;
    case "ready":
      return <p className="status-line">Nothing is sent until you sign in your wallet.</p>;
    case "refused":
      return (
        <div className="notice error" role="alert" data-testid="tx-error">
          <strong>{state.error.summary}:</strong> {state.error.reason}
          <div className="muted">Nothing was signed or sent.</div>
        </div>
      );
    case "signing":
      return <p className="status-line pending">Waiting for your signature in the wallet…</p>;
    case "pending":
      return (
        <p className="status-line pending" data-testid="tx-pending">
          Sent. Waiting for a block… <TxHash hash={state.hash} />
        </p>
      );
    case "succeeded":
      return (
        <div className="notice success" role="status" data-testid="tx-success">
          <strong>Done</strong> in block {state.outcome.height}. <TxHash hash={state.outcome.hash} />
        </div>
      );
    case "failed":
      return (
        <div className="notice error" role="alert" data-testid="tx-error">
          <strong>{state.error.summary}:</strong> {state.error.reason}
          {state.hash && (
            <div>
              <TxHash hash={state.hash} />
            </div>
          )}
        </div>
      );
  }
}

function TxHash({ hash }: { hash: string }) {
  return (
    <span className="tx-hash">
      tx <code data-testid="tx-hash">{hash}</code> <CopyButton text={hash} label="Copy hash" />
    </span>
  );
}
