"use client";

import { useConfig } from "@/components/providers/ConfigProvider";
import { formatBps, shortAddress } from "@/lib/format";
import { type KeeperLookup } from "@/hooks/useKeeperLookup";

/** The keeper's address, with what the chain says about that keeper (fee, track record). */
export function KeeperField({
  value,
  onChange,
  knownKeepers,
  lookup,
}: {
  value: string;
  onChange: (address: string) => void;
  knownKeepers: string[];
  lookup: KeeperLookup;
}) {
  const { bech32Prefix } = useConfig();
  const keeper = lookup.state === "found" ? lookup.profile?.keeper : null;
  return (
    <div>
      <label htmlFor="keeper">Keeper address</label>
      <input id="keeper" value={value} onChange={(event) => onChange(event.target.value)} placeholder={`${bech32Prefix}1…`} />
      {knownKeepers.length > 0 && (
        <div className="row small" style={{ marginTop: "0.3rem" }}>
          <span className="muted">Keepers of recent tasks:</span>
          {knownKeepers.slice(0, 3).map((keeperAddress) => (
            <button key={keeperAddress} type="button" className="button small" onClick={() => onChange(keeperAddress)} title={keeperAddress}>
              {shortAddress(keeperAddress)}
            </button>
          ))}
        </div>
      )}
      <div className="field-hint" data-testid="keeper-info">
        {lookup.state === "none"
          ? "The keeper runs the rounds, attests them on chain and bonds a stake of its own."
          : lookup.state === "loading"
            ? "Looking the keeper up…"
            : lookup.state === "error"
              ? "Could not read this address's profile."
              : keeper
                ? `${lookup.profile?.name ?? ""}: keeper fee ${formatBps(keeper.fee_bps)}, ${keeper.tasks_accepted} task(s) accepted, ${keeper.rounds_attested} round(s) attested, ${keeper.tasks_failed} failed.`
                : "This address is not a registered keeper: the contract will refuse the task."}
      </div>
      {keeper && (
        <div className="field-hint" data-testid="keeper-fee" data-fee-bps={keeper.fee_bps}>
          You agree to a keeper fee of at most <strong>{formatBps(keeper.fee_bps)}</strong> of the delivered pool, this keeper&apos;s
          fee now: should it raise its fee before your task is created, the contract refuses the task.
        </div>
      )}
    </div>
  );
}
