import { displayDenom } from "@/lib/config";
import { type TaskMetric } from "@/lib/contract/types";

/** A Uint128 (decimal string) as a bigint; the contract never sends anything else for amounts. */
export const toBigInt = (amount: string | number | bigint): bigint => BigInt(amount);

/** `1234567ufed` → `1.234567 FED`; trailing zeros dropped, thousands grouped. */
export function formatAmount(amount: string | bigint, denom: string): string {
  const { symbol, decimals } = displayDenom(denom);
  const value = toBigInt(amount);
  const negative = value < 0n;
  const absolute = negative ? -value : value;
  const scale = 10n ** BigInt(decimals);
  const whole = (absolute / scale).toLocaleString("en-US");
  const fraction = decimals ? (absolute % scale).toString().padStart(decimals, "0").replace(/0+$/, "") : "";
  return `${negative ? "−" : ""}${whole}${fraction ? `.${fraction}` : ""} ${symbol}`;
}

/** A display amount typed by a user (`1.5`) in base units, or null when it is not a number. */
export function parseAmount(text: string, denom: string): bigint | null {
  const { decimals } = displayDenom(denom);
  const match = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) return null;
  return BigInt(match[1]!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

/** Basis points as a percentage: 250 → `2.5 %`. */
export const formatBps = (bps: number): string => `${(bps / 100).toLocaleString("en-US", { maximumFractionDigits: 2 })} %`;

/** `amount × bps / 10000`, rounded down like the contract. */
export const applyBps = (amount: string | bigint, bps: number): bigint => (toBigInt(amount) * BigInt(bps)) / 10000n;

/** `wasm1abcdefgh…wxyz` */
export function shortAddress(address: string, keep = 6): string {
  if (address.length <= 2 * keep + 6) return address;
  const separator = address.indexOf("1");
  return `${address.slice(0, separator + 1 + keep)}…${address.slice(-keep)}`;
}

export const shortHash = (hash: string, keep = 8): string =>
  hash.length <= 2 * keep + 1 ? hash : `${hash.slice(0, keep)}…${hash.slice(-keep)}`;

/** Seconds as the two most significant units: `2 d 4 h`, `5 min 03 s`, `42 s`. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${rest} s`;
}

/** Unix seconds as a UTC date-time, the same on server and browser (no hydration mismatch). */
export function formatTime(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A chain Decimal (`"0.9375"`) as a number for charts; metrics are display values, not money. */
export const decimalToNumber = (decimal: string): number => Number(decimal);

/** Which way a task's metric improves: `higher is better` (accuracy) or `lower is better` (mse). */
export const metricDirection = (metric: TaskMetric): string => (metric.higher_is_better ? "higher is better" : "lower is better");

/** A task's metric in words: `mse (lower is better)`, `accuracy (higher is better, at most 1)`. */
export const describeMetric = (metric: TaskMetric): string =>
  `${metric.name} (${metricDirection(metric)}${metric.at_most == null ? "" : `, at most ${metric.at_most}`})`;

export function formatPercent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}
