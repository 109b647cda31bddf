// The network settings the browser needs, read from FEDCHAIN_* variables on the server at
// request time (server/runtime-config.ts) and handed to client components through ConfigProvider.
// Nothing here is secret: the Kubo RPC URL is deliberately not part of it.

export interface PublicConfig {
  chainId: string;
  /** CometBFT RPC (HTTP); its /websocket endpoint carries the contract's events. */
  rpc: string;
  /** Cosmos SDK REST (gRPC gateway): contract queries and balances. */
  rest: string;
  contract: string;
  /** Fee and staking denom in base units, e.g. `ufed`. */
  denom: string;
  bech32Prefix: string;
  /** e.g. `0.025ufed` */
  gasPrice: string;
  /** Public IPFS gateway base URL; files live under `/ipfs/<cid>`. */
  ipfsGateway: string;
  /** The keeper's live feed (WebSocket URL), when one is reachable. */
  feed: string | null;
}

/** How a base denom is shown: `ufed` is 10^-6 FED, anything else is shown as it is. */
export interface DisplayDenom {
  symbol: string;
  decimals: number;
}

export function displayDenom(denom: string): DisplayDenom {
  if (/^u[a-z]{2,}$/.test(denom)) return { symbol: denom.slice(1).toUpperCase(), decimals: 6 };
  return { symbol: denom, decimals: 0 };
}
