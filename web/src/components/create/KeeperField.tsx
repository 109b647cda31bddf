"use client";

import { useEffect, useState } from "react";

import { useConfig, useReader } from "@/components/providers/ConfigProvider";
import { type ProfileResponse } from "@/lib/contract/types";
import { formatBps, shortAddress } from "@/lib/format";

type Lookup = { state: "none" } | { state: "loading" } | { state: "found"; profile: ProfileResponse | null } | { state: "error" };

/** The keeper's address, with what the chain says about that keeper (fee, track record). */
export function KeeperField({ value, onChange, knownKeepers }: { value: string; onChange: (address: string) => void; knownKeepers: string[] }) {
  const reader = useReader();
  const { bech32Prefix } = useConfig();
  const [lookup, setLookup] = useState<Lookup>({ state: "none" });
  const address = value.trim();
  const plausible = address.startsWith(`${bech32Prefix}1`) && address.length >= 39;

  useEffect(() => {
    if (!plausible) return;
    let current = true;
    const timer = setTimeout(() => {
      setLookup({ state: "loading" });
      reader
        .profile(address)
        .then((profile) => current && setLookup({ state: "found", profile }))
        .catch(() => current && setLookup({ state: "error" }));
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [address, plausible, reader]);

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
        {!plausible
          ? "The keeper runs the rounds, attests them on chain and bonds a stake of its own."
          : lookup.state === "loading"
            ? "Looking the keeper up…"
            : lookup.state === "error"
              ? "Could not read this address's profile."
              : keeper
                ? `${lookup.state === "found" ? lookup.profile?.name : ""}: keeper fee ${formatBps(keeper.fee_bps)}, ${keeper.tasks_accepted} task(s) accepted, ${keeper.rounds_attested} round(s) attested, ${keeper.tasks_failed} failed.`
                : lookup.state === "found"
                  ? "This address is not a registered keeper: the contract will refuse the task."
                  : ""}
      </div>
    </div>
  );
}
