// task_hub v2 types written by hand from spec/task_hub_v2.md while the contract rewrite is in
// progress. Same names and shapes as scripts/contract-types.mjs generates from the contract's
// JSON schema; replaced by task-hub.generated.ts once the v2 schema is committed.

export type Uint128 = string;
export type Decimal = string;
export type Addr = string;
/** Standard base64. */
export type Binary = string;

export type TaskStatus = "proposed" | "open" | "running" | "finalized" | "cancelled";
export type SlashReason = "non_finite" | "wrong_shape" | "norm_exceeded" | "equivocation" | "invalid_update";

export interface Limits {
  max_trainers_per_task: number;
  max_rounds: number;
  grace_period_secs: number;
  claim_window_secs: number;
  max_string_len: number;
  max_cid_len: number;
}

export interface InstantiateMsg {
  admin?: string | null;
  treasury: string;
  fee_bps: number;
  limits: Limits;
}

export interface CreateTaskMsg {
  model_name: string;
  description: string;
  client_cid: string;
  client_sha256: string;
  initial_model_cid: string;
  initial_model_sha256: string;
  rounds: number;
  min_trainers: number;
  max_trainers: number;
  stake: Uint128;
  join_deadline: number;
  training_deadline: number;
  keeper: string;
  keeper_bond: Uint128;
  no_show_penalty_bps: number;
  slash_bps: number;
  max_examples_per_trainer: number;
  round_timeout_secs: number;
}

export interface Contribution {
  trainer: string;
  weight: Uint128;
}

export interface RoundMetrics {
  loss: Decimal;
  accuracy: Decimal;
  examples: number;
}

export interface SubmitRoundMsg {
  task_id: number;
  round: number;
  model_cid: string;
  model_sha256: string;
  metrics: RoundMetrics;
  contributors: Contribution[];
}

export interface SignedClaim {
  payload: Binary;
  pub_key: Binary;
  signature: Binary;
}

export interface SlashEvidence {
  claim: SignedClaim;
  conflicting_claim?: SignedClaim | null;
  update_cid: string;
}

export interface SlashMsg {
  task_id: number;
  round: number;
  trainer: string;
  reason: SlashReason;
  detail: string;
  evidence: SlashEvidence;
}

export type ExecuteMsg =
  | { register: { name: string; organization: boolean; trainer: boolean } }
  | { register_keeper: { name: string; endpoint: string; tls_cert_sha256?: string | null; fee_bps: number } }
  | { create_task: CreateTaskMsg }
  | { accept_task: { task_id: number } }
  | { cancel_task: { task_id: number } }
  | { join_task: { task_id: number; node_public_key?: string | null } }
  | { leave_task: { task_id: number } }
  | { submit_round: SubmitRoundMsg }
  | { slash: SlashMsg }
  | { finalize_task: { task_id: number } }
  | { claim: { task_id: number } }
  | { sweep: { task_id: number } }
  | {
      update_config: {
        treasury?: string | null;
        fee_bps?: number | null;
        limits?: Limits | null;
        admin?: string | null;
      };
    };

export type QueryMsg =
  | { config: Record<string, never> }
  | { task: { task_id: number } }
  | {
      tasks: {
        status?: TaskStatus | null;
        organization?: string | null;
        keeper?: string | null;
        start_after?: number | null;
        limit?: number | null;
      };
    }
  | { participant: { task_id: number; trainer: string } }
  | { participants: { task_id: number; start_after?: string | null; limit?: number | null } }
  | { rounds: { task_id: number; start_after?: number | null; limit?: number | null } }
  | { slashes: { task_id: number; start_after?: string | null; limit?: number | null } }
  | { claimable: { task_id: number; address: string } }
  | { profile: { address: string } };

export type MigrateMsg = Record<string, never>;

export interface ConfigResponse {
  admin: Addr;
  treasury: Addr;
  fee_bps: number;
  limits: Limits;
  next_task_id: number;
}

export interface TaskResponse {
  id: number;
  organization: Addr;
  keeper: Addr;
  treasury: Addr;
  denom: string;
  pool: Uint128;
  keeper_bond: Uint128;
  bonded: boolean;
  status: TaskStatus;
  model_name: string;
  description: string;
  client_cid: string;
  client_sha256: string;
  initial_model_cid: string;
  initial_model_sha256: string;
  rounds: number;
  min_trainers: number;
  max_trainers: number;
  stake: Uint128;
  join_deadline: number;
  training_deadline: number;
  no_show_penalty_bps: number;
  slash_bps: number;
  fee_bps: number;
  keeper_fee_bps: number;
  grace_period_secs: number;
  claim_window_secs: number;
  max_examples_per_trainer: number;
  round_timeout_secs: number;
  created_at: number;
  participants: number;
  rounds_completed: number;
  productive_rounds: number;
  total_weight: Uint128;
  slashed_weight: Uint128;
  contributors_count: number;
  slashed_count: number;
  claimed_count: number;
  forfeited: Uint128;
  delivered_pool: Uint128;
  fee: Uint128;
  keeper_fee: Uint128;
  distributable: Uint128;
  slashed_reward: Uint128;
  no_show_penalty: Uint128;
  rewards_paid: Uint128;
  bond_forfeited: Uint128;
  org_compensation: Uint128;
  trainer_compensation: Uint128;
  treasury_paid: Uint128;
  org_refunded: Uint128;
  keeper_paid: Uint128;
  paid_out: Uint128;
  settled_at?: number | null;
  swept: boolean;
  held: Uint128;
}

export interface TasksResponse {
  tasks: TaskResponse[];
  next_start_after?: number | null;
}

export interface ParticipantResponse {
  trainer: Addr;
  joined_at: number;
  stake: Uint128;
  weight: Uint128;
  slashed: boolean;
  node_public_key?: string | null;
  claimed: boolean;
  claimed_amount: Uint128;
}

export type NullableParticipantResponse = ParticipantResponse | null;

export interface ParticipantsResponse {
  participants: ParticipantResponse[];
}

export interface RoundResponse {
  round: number;
  model_cid: string;
  model_sha256: string;
  metrics: RoundMetrics;
  contributors_count: number;
  total_weight: Uint128;
  submitted_at: number;
  height: number;
}

export interface RoundsResponse {
  rounds: RoundResponse[];
}

export interface SlashResponse {
  trainer: Addr;
  round: number;
  reason: SlashReason;
  detail: string;
  update_cid: string;
  claim: SignedClaim;
  conflicting_claim?: SignedClaim | null;
  forfeit: Uint128;
  slashed_at: number;
  height: number;
}

export interface SlashesResponse {
  slashes: SlashResponse[];
}

export interface ClaimableResponse {
  amount: Uint128;
  denom: string;
  stake_back: Uint128;
  penalty: Uint128;
  reward: Uint128;
  compensation: Uint128;
}

export interface KeeperProfile {
  endpoint: string;
  tls_cert_sha256?: string | null;
  fee_bps: number;
  tasks_accepted: number;
  rounds_attested: number;
  tasks_failed: number;
}

export interface ProfileResponse {
  address: Addr;
  name: string;
  is_organization: boolean;
  is_trainer: boolean;
  keeper?: KeeperProfile | null;
  registered_at: number;
  tasks_created: number;
  tasks_joined: number;
  tasks_completed: number;
  no_shows: number;
  slashed: number;
}

export type NullableProfileResponse = ProfileResponse | null;

/** What each query answers, by query name (from the schema's `responses`). */
export interface QueryResponses {
  claimable: ClaimableResponse;
  config: ConfigResponse;
  participant: NullableParticipantResponse;
  participants: ParticipantsResponse;
  profile: NullableProfileResponse;
  rounds: RoundsResponse;
  slashes: SlashesResponse;
  task: TaskResponse;
  tasks: TasksResponse;
}

export const CONTRACT_NAME = "task_hub";
export const CONTRACT_VERSION = "0.2.0";
