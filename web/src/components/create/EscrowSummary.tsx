import { Amount } from "@/components/common/Amount";

/** What the organization sends now, and what the contract will hold for the task once it is full. */
export function EscrowSummary({ pool, stake, maxTrainers, keeperBond, denom }: { pool: bigint; stake: bigint; maxTrainers: number; keeperBond: bigint; denom: string }) {
  const stakes = stake * BigInt(Math.max(0, maxTrainers));
  return (
    <div className="notice info" data-testid="escrow-summary">
      <strong>
        You escrow <Amount amount={pool} denom={denom} /> now
      </strong>{" "}
      (the reward pool, plus the network fee).
      <div className="small">
        When the keeper accepts and {maxTrainers} trainers join, the contract holds <Amount amount={pool + stakes + keeperBond} denom={denom} />:
        the pool, {maxTrainers} × <Amount amount={stake} denom={denom} /> of stakes and the keeper&apos;s bond of <Amount amount={keeperBond} denom={denom} />. Undelivered rounds&apos; share of the pool comes back to you at settlement.
      </div>
    </div>
  );
}
