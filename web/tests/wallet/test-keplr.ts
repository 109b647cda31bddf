// A Keplr-compatible `window.keplr` for the browser tests (no extension can be installed in a
// headless browser). It behaves like Keplr where the app can tell: `enable` fails for a chain it
// has no info for until `experimentalSuggestChain` adds it, keys derive with the chain's bech32
// prefix, and it signs direct, amino and ADR-036 (signArbitrary) with the given mnemonic. It
// signs whatever the app asks without a prompt, and records each request so tests can assert
// what was (not) signed. Bundled to an IIFE by ./bundle.ts and injected with page.addInitScript.
import { makeSignDoc as makeAminoSignDoc, Secp256k1HdWallet, type StdSignDoc, type StdSignature } from "@cosmjs/amino";
import { fromBech32, toBase64, toUtf8 } from "@cosmjs/encoding";
import { DirectSecp256k1HdWallet, type DirectSignResponse, type OfflineDirectSigner } from "@cosmjs/proto-signing";
import { type AminoSignResponse, type OfflineAminoSigner } from "@cosmjs/amino";

import { type KeplrChainInfo, type KeplrKey } from "@/lib/wallet/keplr";

type SignDoc = Parameters<DirectSecp256k1HdWallet["signDirect"]>[1];

export interface TestWalletOptions {
  mnemonic: string;
  keyName: string;
  /** Chains the wallet knows from the start (empty: the app must suggest its chain). */
  knownChains: KeplrChainInfo[];
}

export interface TestWalletRecord {
  suggestedChains: string[];
  enabledChains: string[];
  signRequests: { kind: "direct" | "amino" | "arbitrary"; chainId: string; signer: string }[];
}

declare global {
  interface Window {
    __testWalletOptions?: TestWalletOptions;
    __testWallet?: TestWalletRecord;
  }
}

class TestKeplr {
  private readonly chains = new Map<string, KeplrChainInfo>();
  private readonly enabled = new Set<string>();
  private readonly wallets = new Map<string, Promise<{ direct: DirectSecp256k1HdWallet; amino: Secp256k1HdWallet }>>();
  readonly version = "0.12-test";
  readonly mode = "extension";

  constructor(
    private readonly options: TestWalletOptions,
    private readonly record: TestWalletRecord,
  ) {
    for (const chain of options.knownChains) this.chains.set(chain.chainId, chain);
  }

  private chain(chainId: string): KeplrChainInfo {
    const chain = this.chains.get(chainId);
    if (!chain) throw new Error(`There is no chain info for ${chainId}`);
    return chain;
  }

  private walletsFor(chainId: string) {
    let wallets = this.wallets.get(chainId);
    if (!wallets) {
      const prefix = this.chain(chainId).bech32Config.bech32PrefixAccAddr;
      wallets = Promise.all([
        DirectSecp256k1HdWallet.fromMnemonic(this.options.mnemonic, { prefix }),
        Secp256k1HdWallet.fromMnemonic(this.options.mnemonic, { prefix }),
      ]).then(([direct, amino]) => ({ direct, amino }));
      this.wallets.set(chainId, wallets);
    }
    return wallets;
  }

  private ensureEnabled(chainId: string): void {
    this.chain(chainId);
    if (!this.enabled.has(chainId)) throw new Error(`${chainId} is not enabled: call keplr.enable first`);
  }

  // Keplr's methods are asynchronous (they talk to the extension): so are these, errors included.
  enable(chainIds: string | string[]): Promise<void> {
    try {
      for (const chainId of Array.isArray(chainIds) ? chainIds : [chainIds]) {
        this.chain(chainId);
        this.enabled.add(chainId);
        this.record.enabledChains.push(chainId);
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  experimentalSuggestChain(chainInfo: KeplrChainInfo): Promise<void> {
    this.chains.set(chainInfo.chainId, chainInfo);
    this.record.suggestedChains.push(chainInfo.chainId);
    return Promise.resolve();
  }

  async getKey(chainId: string): Promise<KeplrKey> {
    this.ensureEnabled(chainId);
    const { direct } = await this.walletsFor(chainId);
    const [account] = await direct.getAccounts();
    return {
      name: this.options.keyName,
      algo: "secp256k1",
      pubKey: account!.pubkey,
      address: fromBech32(account!.address).data,
      bech32Address: account!.address,
      isNanoLedger: false,
    };
  }

  async signDirect(chainId: string, signer: string, signDoc: SignDoc): Promise<DirectSignResponse> {
    this.ensureEnabled(chainId);
    this.record.signRequests.push({ kind: "direct", chainId, signer });
    return (await this.walletsFor(chainId)).direct.signDirect(signer, signDoc);
  }

  async signAmino(chainId: string, signer: string, signDoc: StdSignDoc): Promise<AminoSignResponse> {
    this.ensureEnabled(chainId);
    this.record.signRequests.push({ kind: "amino", chainId, signer });
    return (await this.walletsFor(chainId)).amino.signAmino(signer, signDoc);
  }

  /** ADR-036: an amino sign doc with one MsgSignData, empty chain id, zero fee/account/sequence. */
  async signArbitrary(chainId: string, signer: string, data: string | Uint8Array): Promise<StdSignature> {
    this.ensureEnabled(chainId);
    this.record.signRequests.push({ kind: "arbitrary", chainId, signer });
    const bytes = typeof data === "string" ? toUtf8(data) : data;
    const doc = makeAminoSignDoc(
      [{ type: "sign/MsgSignData", value: { signer, data: toBase64(bytes) } }],
      { gas: "0", amount: [] },
      "",
      "",
      0,
      0,
    );
    return (await (await this.walletsFor(chainId)).amino.signAmino(signer, doc)).signature;
  }

  getOfflineSigner(chainId: string): OfflineDirectSigner {
    return {
      getAccounts: async () => {
        this.ensureEnabled(chainId);
        return (await this.walletsFor(chainId)).direct.getAccounts();
      },
      signDirect: (signer, signDoc) => this.signDirect(chainId, signer, signDoc),
    };
  }

  getOfflineSignerOnlyAmino(chainId: string): OfflineAminoSigner {
    return {
      getAccounts: async () => {
        this.ensureEnabled(chainId);
        return (await this.walletsFor(chainId)).amino.getAccounts();
      },
      signAmino: (signer, signDoc) => this.signAmino(chainId, signer, signDoc),
    };
  }

  getOfflineSignerAuto(chainId: string): Promise<OfflineDirectSigner> {
    return Promise.resolve(this.getOfflineSigner(chainId));
  }
}

const options = window.__testWalletOptions;
if (options) {
  const record: TestWalletRecord = { suggestedChains: [], enabledChains: [], signRequests: [] };
  window.__testWallet = record;
  Object.defineProperty(window, "keplr", { value: new TestKeplr(options, record), configurable: true });
  window.dispatchEvent(new Event("keplr_keystorechange"));
}
