// Deploys task_hub v2 for the browser tests with cosmjs: the code is uploaded once per wasm
// (cached by its sha256 in the localnet's home), and every run instantiates a fresh contract,
// so task ids and profiles start from nothing and runs never see each other's state.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { type InstantiateMsg } from "@/lib/contract/types";

import { type TestChain } from "./chain";
import { KEEPER_SUPERLINK_PORT, LOCALNET_HOME } from "./settings";

/** Short grace and claim windows let the tests reach "anyone may settle" and "sweep" in seconds. */
export const TEST_LIMITS: InstantiateMsg["limits"] = {
  max_trainers_per_task: 100,
  max_rounds: 100,
  grace_period_secs: 60,
  claim_window_secs: 60,
  max_string_len: 256,
  max_cid_len: 128,
};
export const TEST_FEE_BPS = 200;
export const TEST_KEEPER_FEE_BPS = 500;

const codeCacheFile = path.join(LOCALNET_HOME, "web-test-code.json");

async function storedCodeId(chain: TestChain, wasm: Uint8Array): Promise<number> {
  const checksum = createHash("sha256").update(wasm).digest("hex");
  const deployer = await chain.dev("validator0");
  if (existsSync(codeCacheFile)) {
    const cached = JSON.parse(readFileSync(codeCacheFile, "utf8")) as { checksum: string; codeId: number };
    if (cached.checksum === checksum) {
      const details = await deployer.client.getCodeDetails(cached.codeId).catch(() => null);
      if (details?.checksum.toLowerCase() === checksum) return cached.codeId;
    }
  }
  const { codeId } = await deployer.client.upload(deployer.address, wasm, "auto");
  writeFileSync(codeCacheFile, JSON.stringify({ checksum, codeId }));
  return codeId;
}

export async function deployTaskHub(chain: TestChain, wasmFile: string): Promise<{ codeId: number; contract: string }> {
  const codeId = await storedCodeId(chain, readFileSync(wasmFile));
  const deployer = await chain.dev("validator0");
  const treasury = await chain.dev("treasury");
  const message: InstantiateMsg = { admin: deployer.address, treasury: treasury.address, fee_bps: TEST_FEE_BPS, limits: TEST_LIMITS };
  const { contractAddress } = await deployer.client.instantiate(
    deployer.address,
    codeId,
    message,
    `task_hub web tests ${new Date().toISOString()}`,
    "auto",
    { admin: deployer.address },
  );
  return { codeId, contract: contractAddress };
}

/** The localnet's keeper account, registered as a keeper on the fresh contract. */
export async function registerKeeper(chain: TestChain): Promise<void> {
  const keeper = await chain.dev("keeper");
  await chain.execute(keeper, {
    register_keeper: { name: "localnet keeper", endpoint: `127.0.0.1:${KEEPER_SUPERLINK_PORT}`, tls_cert_sha256: null, fee_bps: TEST_KEEPER_FEE_BPS },
  });
}
