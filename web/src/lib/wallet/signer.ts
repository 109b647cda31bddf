// Signing and broadcasting task_hub calls with the connected wallet. This is the only module
// that loads cosmjs's signing stack; it is imported on demand (when a transaction is prepared),
// so pages that only read the chain never download it.

import { SigningCosmWasmClient } from "@cosmjs/cosmwasm";
import { type OfflineSigner } from "@cosmjs/proto-signing";
import { calculateFee, GasPrice, type StdFee } from "@cosmjs/stargate";
import { Comet1Client, Comet38Client, type CometClient, Tendermint37Client } from "@cosmjs/tendermint-rpc";

import { type PublicConfig } from "@/lib/config";
import { type ContractCall, executeContractMessage } from "@/lib/contract/task-hub";

/** Gas actually used by the simulation times this margin, so a state change between simulation and block fits. */
const GAS_MARGIN = 1.4;
const POLL_INTERVAL_MS = 300;
const INCLUSION_TIMEOUT_MS = 60_000;

export interface TxOutcome {
  hash: string;
  height: number;
  /** 0 on success; anything else is the chain's refusal, explained by `log`. */
  code: number;
  log: string;
  gasUsed: bigint;
  /** The task_hub `wasm` events of the transaction, as attribute maps. */
  wasmEvents: Record<string, string>[];
}

/** CometBFT 0.39 (wasmd 0.70) speaks the 0.38 RPC dialect; cosmjs's auto-detection does not know it yet. */
export async function connectComet(rpc: string): Promise<CometClient> {
  const probe = await Comet38Client.connect(rpc);
  const version = (await probe.status()).nodeInfo.version;
  if (version.startsWith("0.37.")) {
    probe.disconnect();
    return Tendermint37Client.connect(rpc);
  }
  if (version.startsWith("1.")) {
    probe.disconnect();
    return Comet1Client.connect(rpc);
  }
  return probe;
}

export class TaskHubSigner {
  private constructor(
    private readonly client: SigningCosmWasmClient,
    private readonly config: PublicConfig,
    readonly address: string,
  ) {}

  static async connect(config: PublicConfig, signer: OfflineSigner, address: string): Promise<TaskHubSigner> {
    const comet = await connectComet(config.rpc);
    const client = SigningCosmWasmClient.createWithSigner(comet, signer, {
      gasPrice: GasPrice.fromString(config.gasPrice),
      broadcastPollIntervalMs: POLL_INTERVAL_MS,
    });
    return new TaskHubSigner(client, config, address);
  }

  private messages(call: ContractCall) {
    return [executeContractMessage(this.address, this.config.contract, call)];
  }

  /** Simulates the call: the fee it will cost, or the contract's refusal before anything is signed. */
  async estimateFee(call: ContractCall): Promise<StdFee> {
    const gasUsed = await this.client.simulate(this.address, this.messages(call), undefined);
    return calculateFee(Math.ceil(gasUsed * GAS_MARGIN), GasPrice.fromString(this.config.gasPrice));
  }

  /** Asks the wallet to sign and hands the transaction to the node; returns its hash at once. */
  signAndSend(call: ContractCall, fee: StdFee): Promise<string> {
    return this.client.signAndBroadcastSync(this.address, this.messages(call), fee);
  }

  /** Waits until the transaction is in a block. */
  async waitForInclusion(hash: string): Promise<TxOutcome> {
    const deadline = Date.now() + INCLUSION_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const tx = await this.client.getTx(hash);
      if (tx) {
        return {
          hash: tx.hash,
          height: tx.height,
          code: tx.code,
          log: tx.rawLog,
          gasUsed: tx.gasUsed,
          wasmEvents: tx.events
            .filter((event) => event.type === "wasm")
            .map((event) => Object.fromEntries(event.attributes.map(({ key, value }) => [key, value]))),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    throw new Error(`transaction ${hash} was not included within ${INCLUSION_TIMEOUT_MS / 1000} s`);
  }

  disconnect(): void {
    this.client.disconnect();
  }
}
