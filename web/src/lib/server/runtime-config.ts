import "server-only";

import { connection } from "next/server";

import { type PublicConfig } from "@/lib/config";

// Defaults are the developer localnet's (chain_config/, port offset 0), so `next start` with only
// FEDCHAIN_CONTRACT set works against `fedchain localnet up`. Every other network sets them all.
const LOCALNET_DEFAULTS = {
  FEDCHAIN_CHAIN_ID: "fedchain-local-1",
  FEDCHAIN_RPC: "http://127.0.0.1:26657",
  FEDCHAIN_REST: "http://127.0.0.1:1317",
  FEDCHAIN_DENOM: "ufed",
  FEDCHAIN_PREFIX: "wasm",
  FEDCHAIN_GAS_PRICE: "0.025ufed",
  FEDCHAIN_IPFS_GATEWAY: "http://127.0.0.1:5080",
  FEDCHAIN_IPFS_API: "http://127.0.0.1:5001",
} as const;

type Setting = keyof typeof LOCALNET_DEFAULTS | "FEDCHAIN_CONTRACT" | "FEDCHAIN_FEED";

export class ConfigError extends Error {
  constructor(readonly missing: string[]) {
    super(`missing configuration: ${missing.join(", ")}`);
  }
}

function setting(name: Setting): string | undefined {
  // A dynamic lookup on purpose: Next inlines only literal `process.env.X` reads at build time.
  const value = process.env[name]?.trim();
  if (value) return value;
  return name in LOCALNET_DEFAULTS ? LOCALNET_DEFAULTS[name as keyof typeof LOCALNET_DEFAULTS] : undefined;
}

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, "");

/** The browser's settings, read at request time so one build serves any network. */
export async function readPublicConfig(): Promise<PublicConfig> {
  await connection(); // opt this render into request time: env is read now, not at build
  const contract = setting("FEDCHAIN_CONTRACT");
  if (!contract) throw new ConfigError(["FEDCHAIN_CONTRACT"]);
  return {
    chainId: setting("FEDCHAIN_CHAIN_ID")!,
    rpc: withoutTrailingSlash(setting("FEDCHAIN_RPC")!),
    rest: withoutTrailingSlash(setting("FEDCHAIN_REST")!),
    contract,
    denom: setting("FEDCHAIN_DENOM")!,
    bech32Prefix: setting("FEDCHAIN_PREFIX")!,
    gasPrice: setting("FEDCHAIN_GAS_PRICE")!,
    ipfsGateway: withoutTrailingSlash(setting("FEDCHAIN_IPFS_GATEWAY")!),
    feed: setting("FEDCHAIN_FEED") ?? null,
  };
}

/** The server's clock at render time (unix seconds): the browser's countdowns start from it. */
export function renderTime(): number {
  return Math.floor(Date.now() / 1000);
}

/** Kubo's RPC: an admin interface, used by the pinning route only and never sent to the browser. */
export function kuboApiUrl(): string {
  return withoutTrailingSlash(setting("FEDCHAIN_IPFS_API")!);
}
