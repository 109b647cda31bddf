"use client";

import { useEffect, useState } from "react";

import { useConfig, useReader } from "@/components/providers/ConfigProvider";
import { type ProfileResponse } from "@/lib/contract/types";

/** What the chain says about the address typed as a task's keeper. */
export type KeeperLookup =
  | { state: "none" }
  | { state: "loading" }
  | { state: "found"; address: string; profile: ProfileResponse | null }
  | { state: "error" };

/** The keeper's fee as its profile states it now, or null while it is unknown or not a keeper. */
export function keeperFeeBps(lookup: KeeperLookup): number | null {
  return lookup.state === "found" ? (lookup.profile?.keeper?.fee_bps ?? null) : null;
}

/** Looks `address`'s task_hub profile up (debounced), so the form can show and agree to the keeper's fee. */
export function useKeeperLookup(value: string): KeeperLookup {
  const reader = useReader();
  const { bech32Prefix } = useConfig();
  const [lookup, setLookup] = useState<KeeperLookup>({ state: "none" });
  const address = value.trim();
  const plausible = address.startsWith(`${bech32Prefix}1`) && address.length >= 39;

  useEffect(() => {
    if (!plausible) return;
    let current = true;
    const timer = setTimeout(() => {
      setLookup({ state: "loading" });
      reader
        .profile(address)
        .then((profile) => current && setLookup({ state: "found", address, profile }))
        .catch(() => current && setLookup({ state: "error" }));
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [address, plausible, reader]);

  // A lookup for another address (typed since) says nothing about this one.
  if (!plausible) return { state: "none" };
  if (lookup.state === "found" && lookup.address !== address) return { state: "loading" };
  return lookup;
}
