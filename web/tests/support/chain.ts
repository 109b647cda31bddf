// The tests' own hands on the chain (cosmjs in Node): fund accounts, play the organization, the
// keeper and other trainers, and read back what the UI did. Same typed messages as the app.
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm";
import { DirectSecp256k1HdWallet, type EncodeObject } from "@cosmjs/proto-signing";
import { type DeliverTxResponse, GasPrice } from "@cosmjs/stargate";

import { bankBalance, latestBlockTime, restGet } from "@/lib/chain/rest";
import { type Coin, executeContractMessage, TaskHubReader } from "@/lib/contract/task-hub";
import { type ExecuteMsg } from "@/lib/contract/types";
import { connectComet } from "@/lib/wallet/signer";

import { devMnemonics } from "./python";
import { type StackInfo } from "./settings";

export interface TestAccount {
  name: string;
  mnemonic: string;
  address: string;
  client: SigningCosmWasmClient;
}

/** A contract call refused by the chain; `log` holds the contract's reason. */
export class TxFailed extends Error {
  constructor(readonly log: string) {
    super(log);
  }
}

export class TestChain {
  readonly reader: TaskHubReader;
  private faucetQueue: Promise<unknown> = Promise.resolve();
  private readonly accounts = new Map<string, Promise<TestAccount>>();

  constructor(readonly stack: Pick<StackInfo, "rpc" | "rest" | "contract" | "chainId" | "denom" | "prefix" | "gasPrice">) {
    this.reader = new TaskHubReader(stack.rest, stack.contract);
  }

  async account(name: string, mnemonic: string): Promise<TestAccount> {
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: this.stack.prefix });
    const [first] = await wallet.getAccounts();
    const client = SigningCosmWasmClient.createWithSigner(await connectComet(this.stack.rpc), wallet, {
      gasPrice: GasPrice.fromString(this.stack.gasPrice),
      broadcastPollIntervalMs: 200,
    });
    return { name, mnemonic, address: first!.address, client };
  }

  /** A localnet dev account (organization, keeper, treasury, trainerN, validatorN), one client each. */
  dev(name: string): Promise<TestAccount> {
    let account = this.accounts.get(name);
    if (!account) {
      const mnemonic = devMnemonics()[name];
      if (!mnemonic) throw new Error(`no dev account ${name}`);
      account = this.account(name, mnemonic);
      this.accounts.set(name, account);
    }
    return account;
  }

  /** A brand-new account with a random mnemonic, funded by validator0: every test starts unregistered. */
  async fresh(name: string, amount = 1_000_000_000n): Promise<TestAccount> {
    const wallet = await DirectSecp256k1HdWallet.generate(24, { prefix: this.stack.prefix });
    const account = await this.account(name, wallet.mnemonic);
    await this.fund(account.address, amount);
    return account;
  }

  /** Sends coins from validator0; serialized, as one account signs one transaction at a time. */
  async fund(address: string, amount: bigint): Promise<void> {
    const send = this.faucetQueue.then(async () => {
      const faucet = await this.dev("validator0");
      await faucet.client.sendTokens(faucet.address, address, [{ denom: this.stack.denom, amount: amount.toString() }], "auto");
    });
    this.faucetQueue = send.catch(() => undefined);
    await send;
  }

  async execute(account: TestAccount, msg: ExecuteMsg, funds: Coin[] = []): Promise<DeliverTxResponse> {
    return this.executeAll(account, [{ msg, funds }]);
  }

  /** Several task_hub calls in one transaction (e.g. submit_round and its slashes, as the keeper sends them). */
  async executeAll(account: TestAccount, calls: { msg: ExecuteMsg; funds?: Coin[] }[]): Promise<DeliverTxResponse> {
    const messages: EncodeObject[] = calls.map((call) =>
      executeContractMessage(account.address, this.stack.contract, { msg: call.msg, funds: call.funds ?? [] }),
    );
    let result: DeliverTxResponse;
    try {
      result = await account.client.signAndBroadcast(account.address, messages, "auto");
    } catch (error) {
      throw new TxFailed(error instanceof Error ? error.message : String(error));
    }
    if (result.code !== 0) throw new TxFailed(result.rawLog ?? `code ${result.code}`);
    return result;
  }

  balance(address: string): Promise<bigint> {
    return bankBalance(this.stack.rest, address, this.stack.denom);
  }

  /**
   * What `address` paid in transaction fees, summed over every transaction it paid for (found with
   * the chain's tx search by `tx.fee_payer`; failed transactions pay their fee too).
   */
  async feesPaid(address: string): Promise<bigint> {
    interface TxSearch {
      tx_responses: { txhash: string; tx: { auth_info: { fee: { amount: { denom: string; amount: string }[] } } } }[];
      total: string;
    }
    const seen = new Set<string>();
    let total = 0n;
    for (let page = 1; ; page++) {
      const query = encodeURIComponent(`tx.fee_payer='${address}'`);
      const found = await restGet<TxSearch>(this.stack.rest, `/cosmos/tx/v1beta1/txs?query=${query}&page=${page}&limit=100`);
      for (const response of found.tx_responses) {
        if (seen.has(response.txhash)) continue;
        seen.add(response.txhash);
        for (const coin of response.tx.auth_info.fee.amount) if (coin.denom === this.stack.denom) total += BigInt(coin.amount);
      }
      if (found.tx_responses.length < 100 || seen.size >= Number(found.total)) return total;
    }
  }

  blockTime(): Promise<number> {
    return latestBlockTime(this.stack.rest);
  }

  disconnect(): void {
    for (const account of this.accounts.values()) void account.then((resolved) => resolved.client.disconnect());
  }
}
