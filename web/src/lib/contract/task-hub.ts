// The typed task_hub client: every query and every execute message of the web app goes through
// this module, typed by the contract's own schema (./types). Reads use the REST API (no cosmjs);
// writes are built here as plain messages and signed by lib/wallet/signer.ts.

import { smartQuery } from "@/lib/chain/rest";
import {
  type ClaimableResponse,
  type ConfigResponse,
  type CreateTaskMsg,
  type ExecuteMsg,
  type ParticipantResponse,
  type ProfileResponse,
  type QueryMsg,
  type QueryResponses,
  type RoundResponse,
  type SlashResponse,
  type TaskResponse,
  type TaskStatus,
} from "@/lib/contract/types";

type QueryName = keyof QueryResponses;
/** The arguments of query `K`, e.g. `{ task_id: number }` for `task`. */
type QueryArgs<K extends QueryName> = Extract<QueryMsg, Record<K, unknown>> extends infer M
  ? M extends Record<K, infer A>
    ? A
    : never
  : never;

/** The contract's maximum page size for list queries. */
export const PAGE_LIMIT = 100;

export interface TaskFilter {
  status?: TaskStatus;
  organization?: string;
  keeper?: string;
}

export class TaskHubReader {
  constructor(
    readonly restUrl: string,
    readonly contract: string,
  ) {}

  /** One query, its answer typed by the schema's `responses` for that query name. */
  query<K extends QueryName>(name: K, args: QueryArgs<K>, signal?: AbortSignal): Promise<QueryResponses[K]> {
    return smartQuery<QueryResponses[K]>(this.restUrl, this.contract, { [name]: args }, signal);
  }

  config(): Promise<ConfigResponse> {
    return this.query("config", {});
  }

  task(taskId: number, signal?: AbortSignal): Promise<TaskResponse> {
    return this.query("task", { task_id: taskId }, signal);
  }

  /**
   * Tasks matching `filter`, oldest first, paging with `next_start_after` (which the contract
   * sets whenever more entries may follow, even after a short page) up to `max` tasks.
   */
  async tasks(filter: TaskFilter = {}, max = 500, signal?: AbortSignal): Promise<TaskResponse[]> {
    const found: TaskResponse[] = [];
    let startAfter: number | null = null;
    do {
      const page: QueryResponses["tasks"] = await this.query(
        "tasks",
        { ...filter, start_after: startAfter, limit: PAGE_LIMIT },
        signal,
      );
      found.push(...page.tasks);
      startAfter = page.next_start_after ?? null;
    } while (startAfter !== null && found.length < max);
    return found.slice(0, max);
  }

  participant(taskId: number, trainer: string): Promise<ParticipantResponse | null> {
    return this.query("participant", { task_id: taskId, trainer });
  }

  async participants(taskId: number, signal?: AbortSignal): Promise<ParticipantResponse[]> {
    return collectPages(
      (startAfter: string | null) => this.query("participants", { task_id: taskId, start_after: startAfter, limit: PAGE_LIMIT }, signal),
      (page) => page.participants,
      (participant) => participant.trainer,
    );
  }

  async rounds(taskId: number, signal?: AbortSignal): Promise<RoundResponse[]> {
    return collectPages(
      (startAfter: number | null) => this.query("rounds", { task_id: taskId, start_after: startAfter, limit: PAGE_LIMIT }, signal),
      (page) => page.rounds,
      (round) => round.round,
    );
  }

  async slashes(taskId: number, signal?: AbortSignal): Promise<SlashResponse[]> {
    return collectPages(
      (startAfter: string | null) => this.query("slashes", { task_id: taskId, start_after: startAfter, limit: PAGE_LIMIT }, signal),
      (page) => page.slashes,
      (slash) => slash.trainer,
    );
  }

  claimable(taskId: number, address: string): Promise<ClaimableResponse> {
    return this.query("claimable", { task_id: taskId, address });
  }

  profile(address: string): Promise<ProfileResponse | null> {
    return this.query("profile", { address });
  }
}

/** Pages through a list query keyed by the last item's cursor until a page comes back short. */
async function collectPages<Page, Item, Cursor>(
  fetchPage: (startAfter: Cursor | null) => Promise<Page>,
  itemsOf: (page: Page) => Item[],
  cursorOf: (item: Item) => Cursor,
): Promise<Item[]> {
  const items: Item[] = [];
  let startAfter: Cursor | null = null;
  for (;;) {
    const page = itemsOf(await fetchPage(startAfter));
    items.push(...page);
    const last = page.at(-1);
    if (page.length < PAGE_LIMIT || last === undefined) return items;
    startAfter = cursorOf(last);
  }
}

// --- writes --------------------------------------------------------------------------------

export interface Coin {
  denom: string;
  amount: string;
}

/** One contract call: the message and the coins sent with it. */
export interface ContractCall {
  msg: ExecuteMsg;
  funds: Coin[];
}

/** The messages the web app sends, one builder per contract action. */
export const taskHubCalls = {
  register: (name: string, roles: { organization: boolean; trainer: boolean }): ContractCall => ({
    msg: { register: { name, ...roles } },
    funds: [],
  }),
  createTask: (terms: CreateTaskMsg, pool: Coin): ContractCall => ({ msg: { create_task: terms }, funds: [pool] }),
  cancelTask: (taskId: number): ContractCall => ({ msg: { cancel_task: { task_id: taskId } }, funds: [] }),
  // No node key: the trainer's own command names it (SetNodeKey) before its node connects.
  joinTask: (task: Pick<TaskResponse, "id" | "stake" | "denom">): ContractCall => ({
    msg: { join_task: { task_id: task.id, node_public_key: null } },
    funds: [{ denom: task.denom, amount: task.stake }],
  }),
  leaveTask: (taskId: number): ContractCall => ({ msg: { leave_task: { task_id: taskId } }, funds: [] }),
  finalizeTask: (taskId: number): ContractCall => ({ msg: { finalize_task: { task_id: taskId } }, funds: [] }),
  claim: (taskId: number): ContractCall => ({ msg: { claim: { task_id: taskId } }, funds: [] }),
  sweep: (taskId: number): ContractCall => ({ msg: { sweep: { task_id: taskId } }, funds: [] }),
};

export const MSG_EXECUTE_CONTRACT_TYPE_URL = "/cosmwasm.wasm.v1.MsgExecuteContract";

/** The Cosmos message for a call (the shape cosmjs's registry encodes as MsgExecuteContract). */
export function executeContractMessage(sender: string, contract: string, call: ContractCall) {
  return {
    typeUrl: MSG_EXECUTE_CONTRACT_TYPE_URL,
    value: {
      sender,
      contract,
      msg: new TextEncoder().encode(JSON.stringify(call.msg)),
      funds: call.funds,
    },
  };
}
