import { shortAddress } from "@/lib/format";

/** A bech32 address, shortened, the full one on hover; `you` marks the connected account. */
export function AddressText({ address, you }: { address: string; you?: boolean }) {
  return (
    <span className="address" title={address} data-address={address}>
      {shortAddress(address)}
      {you && <span className="you-tag">you</span>}
    </span>
  );
}
