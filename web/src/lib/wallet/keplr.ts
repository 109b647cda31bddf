// The part of Keplr's `window.keplr` interface the app uses (Keplr, Leap and the test wallet all
// expose it), and the chain description handed to `experimentalSuggestChain` when the wallet
// does not know the network yet.

import { type OfflineSigner } from "@cosmjs/proto-signing";

import { displayDenom, type PublicConfig } from "@/lib/config";

export interface KeplrKey {
  name: string;
  algo: string;
  pubKey: Uint8Array;
  address: Uint8Array;
  bech32Address: string;
  isNanoLedger: boolean;
}

export interface KeplrCurrency {
  coinDenom: string;
  coinMinimalDenom: string;
  coinDecimals: number;
}

export interface KeplrChainInfo {
  chainId: string;
  chainName: string;
  rpc: string;
  rest: string;
  bip44: { coinType: number };
  bech32Config: {
    bech32PrefixAccAddr: string;
    bech32PrefixAccPub: string;
    bech32PrefixValAddr: string;
    bech32PrefixValPub: string;
    bech32PrefixConsAddr: string;
    bech32PrefixConsPub: string;
  };
  currencies: KeplrCurrency[];
  feeCurrencies: (KeplrCurrency & { gasPriceStep: { low: number; average: number; high: number } })[];
  stakeCurrency: KeplrCurrency;
  features: string[];
}

export interface KeplrLike {
  enable(chainIds: string | string[]): Promise<void>;
  experimentalSuggestChain(chainInfo: KeplrChainInfo): Promise<void>;
  getKey(chainId: string): Promise<KeplrKey>;
  getOfflineSignerAuto(chainId: string): Promise<OfflineSigner>;
}

declare global {
  interface Window {
    keplr?: KeplrLike;
  }
}

export function chainInfoFor(config: PublicConfig): KeplrChainInfo {
  const { symbol, decimals } = displayDenom(config.denom);
  const currency: KeplrCurrency = { coinDenom: symbol, coinMinimalDenom: config.denom, coinDecimals: decimals };
  const gasPrice = Number.parseFloat(config.gasPrice);
  const prefix = config.bech32Prefix;
  return {
    chainId: config.chainId,
    chainName: `fedchain (${config.chainId})`,
    rpc: config.rpc,
    rest: config.rest,
    bip44: { coinType: 118 },
    bech32Config: {
      bech32PrefixAccAddr: prefix,
      bech32PrefixAccPub: `${prefix}pub`,
      bech32PrefixValAddr: `${prefix}valoper`,
      bech32PrefixValPub: `${prefix}valoperpub`,
      bech32PrefixConsAddr: `${prefix}valcons`,
      bech32PrefixConsPub: `${prefix}valconspub`,
    },
    currencies: [currency],
    feeCurrencies: [{ ...currency, gasPriceStep: { low: gasPrice, average: gasPrice * 1.2, high: gasPrice * 1.6 } }],
    stakeCurrency: currency,
    features: ["cosmwasm"],
  };
}

/** Keplr answers `enable` for a chain it has never seen with an error naming the chain info. */
const UNKNOWN_CHAIN = /chain info|unknown chain|not supported|no chain/i;

export class NoWalletError extends Error {
  constructor() {
    super("No Keplr-compatible wallet was found in this browser (window.keplr).");
    this.name = "NoWalletError";
  }
}

export interface WalletConnection {
  key: KeplrKey;
  /** Whether the chain had to be suggested to the wallet first. */
  suggestedChain: boolean;
}

export async function connectKeplr(config: PublicConfig): Promise<WalletConnection> {
  const keplr = window.keplr;
  if (!keplr) throw new NoWalletError();
  let suggestedChain = false;
  try {
    await keplr.enable(config.chainId);
  } catch (error) {
    if (!(error instanceof Error) || !UNKNOWN_CHAIN.test(error.message)) throw error;
    await keplr.experimentalSuggestChain(chainInfoFor(config));
    suggestedChain = true;
    await keplr.enable(config.chainId);
  }
  return { key: await keplr.getKey(config.chainId), suggestedChain };
}
