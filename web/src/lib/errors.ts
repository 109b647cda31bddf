// Turns what the chain, cosmjs or the wallet throws into a sentence a user can act on. The
// contract's own errors are already plain English (typed errors with a message); they are
// extracted from the SDK's wrapping and shown as they are.

export interface PlainError {
  /** Who refused, e.g. "The contract refused this". */
  summary: string;
  /** Why, in the refusing party's words. */
  reason: string;
}

const CONTRACT_ERROR = /message index: \d+: ([\s\S]*?): execute wasm contract failed/;
const INSUFFICIENT_FUNDS = /spendable balance (\S+) is smaller than (\S+)/;

function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (!trimmed) return trimmed;
  const capitalized = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`;
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  return JSON.stringify(error);
}

export function explainError(error: unknown): PlainError {
  const message = messageOf(error);
  const contract = CONTRACT_ERROR.exec(message);
  if (contract) return { summary: "The contract refused this transaction", reason: sentence(contract[1]!) };
  const funds = INSUFFICIENT_FUNDS.exec(message);
  if (funds) {
    return {
      summary: "Not enough funds",
      reason: sentence(`the account can spend ${funds[1]} but this needs ${funds[2]} (plus the fee)`),
    };
  }
  if (/request rejected|rejected by (the )?user|user denied/i.test(message)) {
    return { summary: "You declined to sign", reason: "Nothing was sent." };
  }
  if (/does not exist on chain/i.test(message)) {
    return {
      summary: "This account has no funds yet",
      reason: "An account exists on chain once it has received coins: fund it, then try again.",
    };
  }
  if (/out of gas/i.test(message)) {
    return { summary: "The transaction ran out of gas", reason: sentence(message) };
  }
  if (/failed to fetch|networkerror|unreachable|ECONNREFUSED/i.test(message)) {
    return { summary: "The chain could not be reached", reason: sentence(message) };
  }
  if (/timed? ?out/i.test(message)) {
    return { summary: "No answer in time", reason: sentence(message) };
  }
  return { summary: "The transaction failed", reason: sentence(message) };
}

/** A query error (REST gateway message) in plain words: the contract's text without the wrapping. */
export function explainQueryError(error: unknown): string {
  const message = messageOf(error);
  return sentence(message.replace(/: query wasm contract failed.*$/s, ""));
}
