// The end-to-end browser test, with the real Python keeper and trainers:
//   a keeper registers with `fedchain keeper register` and runs `fedchain keeper run
//   --accept-bond-up-to …`; an organization creates and funds a task in the UI (client.py and the
//   initial model rendered by `fedchain org build-client`, pinned by the app's server), agreeing to
//   the keeper's fee; the keeper accepts and bonds by itself; two trainers join in the UI; each runs
//   its client.py on its own digits shard (the task's code sandboxed by bubblewrap); the keeper
//   runs the Flower rounds and attests them; the open task page shows each round arriving, and the
//   keeper's live feed, without a reload; the trainers claim in the UI; every balance read back
//   from the chain reconciles to the coin with what the contract paid.
//
// The keeper is a fresh account, so it serves this task only (the other specs' tasks name the
// localnet's `keeper` dev account).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { type Browser, type Page } from "@playwright/test";

import { type TestAccount } from "../support/chain";
import { connectWallet, expect, installWallet, saveScreenshot, signAndConfirm, test, txDialog } from "../support/fixtures";
import { Background } from "../support/processes";
import { fedchain, pythonEnv, writeDigitsShards } from "../support/python";
import { KEEPER_FEED_PORT, KEEPER_SUPERLINK_PORT, pythonPath, REPO_DIR, WEB_URL } from "../support/settings";

const KEEPER_FEE_BPS = 300;
const KEEPER_BOND = 10_000_000n; // the form's default bond (10 FED)
const ROUNDS = 3;

declare global {
  interface Window {
    /** When each round's row first appeared on the page (performance.now(), ms), by round. */
    __roundSeen?: Record<number, number>;
    /** When the page first showed the task finalized. */
    __finalizedSeen?: number;
    /** When the page's keeper feed indicator first showed the feed live. */
    __feedLiveSeen?: number;
    /** Set once on the loaded page: still there at the end means the page was never reloaded. */
    __notReloaded?: boolean;
  }
}

/** Records, in the page, when each round row, the finalized status and the live keeper feed first appear. */
async function watchRounds(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__notReloaded = true;
    window.__roundSeen = {};
    const look = () => {
      for (const row of document.querySelectorAll<HTMLElement>('[data-testid^="round-row-"]')) {
        const round = Number(row.dataset.testid!.slice("round-row-".length));
        window.__roundSeen![round] ??= performance.now();
      }
      if (document.querySelector('[data-status="finalized"]')) window.__finalizedSeen ??= performance.now();
      if (document.querySelector('[aria-label^="keeper feed"][data-live="live"]')) window.__feedLiveSeen ??= performance.now();
    };
    look();
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status", "data-live"] });
  });
}

/** A browser context of its own with `account`'s wallet, on `url`, connected. */
async function openAs(browser: Browser, account: TestAccount, url: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await installWallet(page, account);
  await page.goto(url);
  await connectWallet(page, account);
  return page;
}

test.describe("end to end: UI + real keeper and trainers", () => {
  test.describe.configure({ timeout: 10 * 60_000 });

  const programs: Background[] = [];
  let work = "";

  test.afterAll(async () => {
    await Promise.all(programs.map((program) => program.stop()));
  });

  test.afterEach(({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const program of programs) console.log(program.tail(60));
      console.log(`[full-flow] logs and files kept in ${work}`);
    } else if (work) {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test("an organization and two trainers run a task from the browser; rounds arrive live; balances reconcile", async ({ browser, chain, stack }) => {
    work = mkdtempSync(path.join(tmpdir(), "fedchain-web-e2e-"));
    const keysDir = path.join(work, "keys");
    mkdirSync(keysDir, { mode: 0o700 });
    const writeKey = (account: TestAccount): string => {
      const file = path.join(keysDir, `${account.name}.mnemonic`);
      writeFileSync(file, `${account.mnemonic}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      return file;
    };
    // The CLI works on the tests' localnet (FEDCHAIN_HOME/FEDCHAIN_PORT_OFFSET) with the stack's contract.
    const cliEnv = { FEDCHAIN_CONTRACT: stack.contract, FEDCHAIN_IPFS_API: stack.kuboApi, FEDCHAIN_KEYS_DIR: keysDir };
    const run = (name: string, args: string[]) => {
      const program = Background.start(name, pythonPath(), args, { cwd: REPO_DIR, env: pythonEnv(cliEnv), log: path.join(work, `${name}.log`) });
      programs.push(program);
      return program;
    };

    const [organization, keeper, alice, bob] = await Promise.all([
      chain.fresh("e2e-org", 2_000_000_000n),
      chain.fresh("e2e-keeper"),
      chain.fresh("e2e-alice"),
      chain.fresh("e2e-bob"),
    ]);
    const trainers = [alice, bob];
    const treasury = (await chain.reader.config()).treasury;
    const before = new Map<string, bigint>();
    for (const address of [organization.address, keeper.address, treasury, ...trainers.map((t) => t.address)]) {
      before.set(address, await chain.balance(address));
    }

    // 1. A keeper registers with the CLI and runs, accepting tasks naming it whose bond is at most 10 FED;
    //    pages of the test app's origin may read its live feed.
    writeKey(keeper);
    const superlink = `127.0.0.1:${KEEPER_SUPERLINK_PORT}`;
    fedchain(["keeper", "register", "--key", keeper.name, "--name", "E2E Keeper", "--endpoint", superlink, "--fee-bps", String(KEEPER_FEE_BPS)], cliEnv);
    const keeperProgram = run("keeper", [
      "-m", "keepers.cli", "keeper", "run", "--keeper-key", keeper.name,
      "--superlink-port", String(KEEPER_SUPERLINK_PORT), "--feed-port", String(KEEPER_FEED_PORT),
      "--accept-bond-up-to", KEEPER_BOND.toString(), "--feed-origin", WEB_URL, "--workdir", path.join(work, "keeper"),
    ]);

    // 2. The organization renders client.py and the initial model with the CLI…
    const clientFile = path.join(work, "client.py");
    const modelFile = path.join(work, "initial_model.safetensors");
    fedchain([
      "org", "build-client", "--model", "keepers/examples/digits_mlp.py:DigitsMLP", "--input-scale", "16",
      "--out", clientFile, "--initial-model-out", modelFile,
    ], cliEnv);

    // 3. …and creates and funds the task in the UI, agreeing to the keeper's fee it is shown.
    const orgPage = await openAs(browser, organization, "/tasks/new");
    await orgPage.getByTestId("register-organization").getByLabel("Public name").fill("E2E Clinic");
    await orgPage.getByRole("button", { name: "Register as organization" }).click();
    await signAndConfirm(orgPage);
    const form = orgPage.getByTestId("create-task-form");
    await form.getByLabel("Model name").fill("digits-mlp-e2e");
    await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles(clientFile);
    await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles(modelFile);
    await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "pinned");
    await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
    for (const [label, value] of [
      ["Rounds", String(ROUNDS)],
      ["Minimum trainers", "2"],
      ["Maximum trainers", "2"],
      ["Joins close in (minutes)", "10"],
      ["Training lasts (minutes after that)", "30"],
    ] as const) {
      await form.getByLabel(label).fill(value);
    }
    await form.getByLabel("Keeper address").fill(keeper.address);
    await expect(form.getByTestId("keeper-info")).toContainText("E2E Keeper: keeper fee 3 %");
    await expect(form.getByTestId("keeper-fee")).toHaveAttribute("data-fee-bps", String(KEEPER_FEE_BPS));
    await form.getByRole("button", { name: "Create and fund the task" }).click();
    await expect(txDialog(orgPage)).toContainText("Agrees to a keeper fee of at most 3 %");
    await signAndConfirm(orgPage);
    await orgPage.getByRole("link", { name: /^Open task #\d+$/ }).click();
    await expect(orgPage).toHaveURL(/\/tasks\/\d+$/);
    const taskId = Number(orgPage.url().split("/").at(-1));
    const created = await chain.reader.task(taskId);
    expect(created.keeper).toBe(keeper.address);
    expect(created.keeper_fee_bps).toBe(KEEPER_FEE_BPS);
    expect(created.keeper_bond).toBe(KEEPER_BOND.toString());

    // 4. The keeper accepts and bonds by itself: the open page turns "open" without a reload.
    await watchRounds(orgPage);
    await expect(orgPage.locator("[data-status]").first()).toHaveAttribute("data-status", "open", { timeout: 60_000 });
    expect((await chain.reader.task(taskId)).bonded).toBe(true);

    // 5. Two trainers register and join in the UI, each in its own browser.
    for (const trainer of trainers) {
      const page = await openAs(browser, trainer, `/tasks/${taskId}`);
      await page.getByTestId("your-part").getByLabel("Public name").fill(trainer.name);
      await page.getByRole("button", { name: "Register as trainer" }).click();
      await signAndConfirm(page);
      await page.getByTestId("join-panel").getByRole("button", { name: /^Join and stake/ }).click();
      await signAndConfirm(page);
      await page.context().close();
    }
    expect((await chain.reader.task(taskId)).participants).toBe(2);

    // 6. Each trainer trains, as the task page tells it to (`fedchain trainer train`), on its own shard, its
    //    key in a 0600 file; it leaves the claim to the UI (--no-claim).
    const shards = writeDigitsShards(path.join(work, "data"), trainers.length);
    const trainerPrograms = trainers.map((trainer, index) => {
      writeKey(trainer);
      return run(trainer.name, [
        "-m", "keepers.cli", "trainer", "train", String(taskId), "--key", trainer.name, "--data", shards[index]!,
        "--client", clientFile, "--no-claim",
      ]);
    });

    // 7. The open page shows each round as it is attested, and the keeper's live feed as it happens.
    const activity = orgPage.getByTestId("activity");
    for (let round = 1; round <= ROUNDS; round++) {
      await expect(orgPage.getByTestId(`round-row-${round}`)).toBeVisible({ timeout: 4 * 60_000 });
    }
    await expect(orgPage.locator("[data-status]").first()).toHaveAttribute("data-status", "finalized", { timeout: 120_000 });
    // The keeper's feed (served by its ServerApp while the task runs, for this app's origin) was live
    // and told the page of each trainer's accepted updates before the chain had the rounds.
    for (const trainer of trainers) {
      const fromKeeper = activity.locator('[data-source="keeper"]').filter({ hasText: "accepted" });
      await expect(fromKeeper.filter({ has: orgPage.locator(`[data-address="${trainer.address}"]`) }).first()).toBeVisible();
    }
    const seen = await orgPage.evaluate(() => ({
      rounds: window.__roundSeen ?? {},
      finalized: window.__finalizedSeen,
      feedLive: window.__feedLiveSeen,
      notReloaded: window.__notReloaded,
    }));
    expect(seen.notReloaded).toBe(true);
    expect(seen.feedLive).toBeDefined();
    await saveScreenshot(orgPage, "task-real-run");
    // Rounds arrived one after another, each before the task was finalized (not all at once at the end).
    const times = Array.from({ length: ROUNDS }, (_, index) => seen.rounds[index + 1]);
    expect(times.every((time) => time !== undefined)).toBe(true);
    for (let index = 1; index < ROUNDS; index++) expect(times[index]!).toBeGreaterThan(times[index - 1]!);
    expect(seen.finalized).toBeGreaterThan(times[0]!);
    // Training happened: the chain's last round is far better than chance on ten classes.
    const rounds = await chain.reader.rounds(taskId);
    expect(rounds.map((round) => round.round)).toEqual([1, 2, 3]);
    expect(rounds.every((round) => round.metrics.metric === "accuracy")).toBe(true);
    expect(Number(rounds.at(-1)!.metrics.value)).toBeGreaterThan(0.5);
    for (const round of rounds) expect(round.contributors_count).toBe(trainers.length);
    // Both trainers' client.py ended by themselves once the task was finalized.
    for (const program of trainerPrograms) expect(await program.waitForExit(90_000)).toBe(0);

    // 8. Trainers claim in the UI; the chain pays exactly what `claimable` announced.
    for (const trainer of trainers) {
      const claimable = await chain.reader.claimable(taskId, trainer.address);
      expect(BigInt(claimable.amount)).toBeGreaterThan(BigInt(created.stake)); // stake back plus a reward
      const page = await openAs(browser, trainer, `/tasks/${taskId}`);
      await page.getByTestId("claim-panel").getByRole("button", { name: /^Claim / }).click();
      await expect(txDialog(page)).toContainText("You can claim once.");
      await signAndConfirm(page);
      expect((await chain.reader.participant(taskId, trainer.address))?.claimed_amount).toBe(claimable.amount);
      await page.context().close();
    }
    await keeperProgram.stop();

    // 9. What rounding left in the contract goes to the treasury: once the claim window (60 s on the
    //    test contract) has passed, the organization's page offers the sweep.
    const sweep = orgPage.getByTestId("sweep-panel");
    await expect(sweep).toBeVisible({ timeout: 120_000 });
    const dust = BigInt((await chain.reader.task(taskId)).held);
    expect(dust).toBeLessThan(10n);
    await sweep.getByRole("button", { name: "Sweep to the treasury" }).click();
    await signAndConfirm(orgPage);

    // 10. Reconcile. On chain: everything paid in (pool + bond + stakes) was paid out, nothing is held.
    const task = await chain.reader.task(taskId);
    expect(task.swept).toBe(true);
    const participants = await chain.reader.participants(taskId);
    const claimed = participants.reduce((sum, p) => sum + BigInt(p.claimed_amount), 0n);
    const paidIn = BigInt(task.pool) + BigInt(task.keeper_bond) + BigInt(task.stake) * BigInt(task.participants);
    expect(BigInt(task.held)).toBe(0n);
    expect(BigInt(task.paid_out)).toBe(paidIn);
    expect(BigInt(task.org_refunded) + BigInt(task.org_compensation) + BigInt(task.keeper_paid) + BigInt(task.treasury_paid) + claimed).toBe(paidIn);
    // In balances: each party's change plus the fees it paid is exactly what the contract paid it less what it paid in.
    const change = async (address: string) => (await chain.balance(address)) - before.get(address)! + (await chain.feesPaid(address));
    expect(await change(organization.address)).toBe(-BigInt(task.pool) + BigInt(task.org_refunded) + BigInt(task.org_compensation));
    expect(await change(keeper.address)).toBe(-BigInt(task.keeper_bond) + BigInt(task.keeper_paid));
    expect(BigInt(task.keeper_paid)).toBeGreaterThan(BigInt(task.keeper_bond)); // bond back plus its fee
    expect((await chain.balance(treasury)) - before.get(treasury)!).toBe(BigInt(task.treasury_paid));
    for (const participant of participants) {
      expect(BigInt(participant.weight)).toBeGreaterThan(0n);
      expect(await change(participant.trainer)).toBe(BigInt(participant.claimed_amount) - BigInt(participant.stake));
    }
  });
});
