// Reads from the chain's REST API (the Cosmos SDK gRPC gateway). Reading needs no cosmjs at all,
// which keeps it out of the JavaScript every page loads; cosmjs is loaded only to sign.

/** The chain answered with an error (e.g. the contract refused a query); `message` is its own text. */
export class ChainQueryError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ChainQueryError";
  }
}

interface GatewayError {
  code?: number;
  message?: string;
}

export async function restGet<T>(restUrl: string, path: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${restUrl}${path}`, { cache: "no-store", signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ChainQueryError(`the chain's REST API at ${restUrl} is unreachable`, 0);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (body as GatewayError | null)?.message ?? `HTTP ${response.status}`;
    throw new ChainQueryError(message, response.status);
  }
  return body as T;
}

export function base64FromUtf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Smart-queries a contract; the answer's type is the caller's to state (see contract/task-hub.ts). */
export async function smartQuery<T>(restUrl: string, contract: string, query: unknown, signal?: AbortSignal): Promise<T> {
  const encoded = encodeURIComponent(base64FromUtf8(JSON.stringify(query)));
  const { data } = await restGet<{ data: T }>(restUrl, `/cosmwasm/wasm/v1/contract/${contract}/smart/${encoded}`, signal);
  return data;
}

export async function bankBalance(restUrl: string, address: string, denom: string): Promise<bigint> {
  const { balance } = await restGet<{ balance?: { amount: string } }>(
    restUrl,
    `/cosmos/bank/v1beta1/balances/${address}/by_denom?denom=${encodeURIComponent(denom)}`,
  );
  return BigInt(balance?.amount ?? "0");
}

/** The latest block's time (unix seconds): deadlines are judged by it, not by the browser's clock. */
export async function latestBlockTime(restUrl: string): Promise<number> {
  const { block } = await restGet<{ block: { header: { time: string } } }>(
    restUrl,
    "/cosmos/base/tendermint/v1beta1/blocks/latest",
  );
  return Math.floor(Date.parse(block.header.time) / 1000);
}
