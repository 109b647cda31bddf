import { formatAmount } from "@/lib/format";

/** An on-chain amount in display units (`12.5 FED`), with the exact base amount on hover. */
export function Amount({ amount, denom }: { amount: string | bigint; denom: string }) {
  return (
    <span className="amount" title={`${amount.toString()} ${denom}`}>
      {formatAmount(amount, denom)}
    </span>
  );
}
