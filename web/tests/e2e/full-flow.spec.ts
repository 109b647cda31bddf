// The end-to-end browser test of issue 14, with the real Python keeper and trainers:
//   an organization creates and funds a task in the UI (client.py and initial model rendered by
//   `fedchain org build-client`, pinned by the app's server); the keeper accepts and bonds; two
//   trainers join in the UI; they run their client.py and the keeper runs the Flower rounds;
//   the open task page shows each round arriving live; the trainers claim in the UI; balances
//   read back from the chain reconcile to the coin.
//
// It needs the Python side on task_hub v2, which is not there yet: it is skipped unless
// FEDCHAIN_WEB_E2E=1. What it runs is below (and in web/README.md): the commands marked
// "(v2)" do not exist yet, or do not speak v2 yet.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { type TestAccount } from "../support/chain";
import { connectWallet, expect, installWallet, signAndConfirm, test, txDialog } from "../support/fixtures";
import { KEEPER_FEED_PORT, LOCALNET_HOME, PORT_OFFSET, pythonPath, REPO_DIR } from "../support/settings";

const READY = process.env.FEDCHAIN_WEB_E2E === "1";
const WAITS_FOR =
  "waits for the Python side on task_hub v2: `fedchain keeper run` accepting and bonding proposed tasks and attesting " +
  "with v2 submit_round/slash/finalize_task, `fedchain org build-client` and client.py for v2 (join with node key, " +
  "claim), and `fedchain data shards` for per-trainer data; run with FEDCHAIN_WEB_E2E=1 once they exist";

const SUPERLINK_PORT = 9092 + PORT_OFFSET;
const FEED_PORT = KEEPER_FEED_PORT;

test.describe("end to end: UI + real keeper and trainers", () => {
  test.skip(!READY, WAITS_FOR);
  test.describe.configure({ timeout: 20 * 60_000 });

  const started: ChildProcess[] = [];
  test.afterAll(() => {
    for (const child of started) if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
  });

  test("an organization and two trainers run a task from the browser; rounds arrive live; claims reconcile", async ({ browser, chain, stack }) => {
    const work = mkdtempSync(path.join(tmpdir(), "fedchain-web-e2e-"));
    const network = ["--rpc", stack.rpc, "--node", `grpc+http://127.0.0.1:${9090 + PORT_OFFSET}`, "--contract", stack.contract, "--ipfs-api", stack.kuboApi];
    const fedchain = (...args: string[]) =>
      execFileSync(pythonPath(), ["-m", "keepers.cli", ...network, ...args], {
        cwd: REPO_DIR,
        env: { ...process.env, PYTHONPATH: REPO_DIR, FEDCHAIN_HOME: LOCALNET_HOME, FEDCHAIN_PORT_OFFSET: String(PORT_OFFSET) },
        encoding: "utf8",
      });
    const background = (name: string, command: string, args: string[]) => {
      const child = spawn(command, args, {
        cwd: REPO_DIR,
        env: { ...process.env, PYTHONPATH: REPO_DIR, FEDCHAIN_HOME: LOCALNET_HOME, FEDCHAIN_PORT_OFFSET: String(PORT_OFFSET) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout?.on("data", (data: Buffer) => process.stdout.write(`[${name}] ${data.toString()}`));
      child.stderr?.on("data", (data: Buffer) => process.stdout.write(`[${name}] ${data.toString()}`));
      started.push(child);
      return child;
    };

    // 1. The organization renders client.py and the initial model (v2: client.py for the v2 contract).
    fedchain(
      "org", "build-client", "--model", "keepers/examples/digits_mlp.py:DigitsMLP", "--input-scale", "16",
      "--superlink", `127.0.0.1:${SUPERLINK_PORT}`, "--out", path.join(work, "client.py"),
      "--initial-model-out", path.join(work, "initial_model.safetensors"),
    );

    // 2. The keeper serves the contract the stack deployed (v2: accepts proposed tasks naming it, bonds, attests v2).
    background("keeper", pythonPath(), [
      "-m", "keepers.cli", ...network, "keeper", "run", "--keeper-key", "keeper",
      "--superlink-port", String(SUPERLINK_PORT), "--feed-port", String(FEED_PORT),
    ]);

    // 3. The organization creates and funds the task in the UI.
    const organization = await chain.fresh("e2e-org", 2_000_000_000n);
    const keeper = await chain.dev("keeper");
    const orgPage = await (await browser.newContext()).newPage();
    await installWallet(orgPage, organization);
    await orgPage.goto("/tasks/new");
    await connectWallet(orgPage, organization);
    await orgPage.getByTestId("register-organization").getByLabel("Public name").fill("E2E Clinic");
    await orgPage.getByRole("button", { name: "Register as organization" }).click();
    await signAndConfirm(orgPage);
    const form = orgPage.getByTestId("create-task-form");
    await form.getByLabel("Model name").fill("digits-mlp-e2e");
    await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles(path.join(work, "client.py"));
    await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles(path.join(work, "initial_model.safetensors"));
    await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "pinned");
    await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
    for (const [label, value] of [["Rounds", "3"], ["Minimum trainers", "2"], ["Maximum trainers", "2"], ["Joins close in (minutes)", "10"], ["Training lasts (minutes after that)", "30"]]) {
      await form.getByLabel(label!).fill(value!);
    }
    await form.getByLabel("Keeper address").fill(keeper.address);
    await form.getByRole("button", { name: "Create and fund the task" }).click();
    await signAndConfirm(orgPage);
    await orgPage.getByRole("link", { name: /^Open task #\d+$/ }).click();
    const taskId = Number(orgPage.url().split("/").at(-1));
    // The keeper accepts and bonds: the page turns "open" by itself.
    await expect(orgPage.locator("[data-status]").first()).toHaveAttribute("data-status", "open", { timeout: 120_000 });

    // 4. Two trainers join in the UI, each with its own browser.
    const trainers: TestAccount[] = await Promise.all([chain.fresh("e2e-alice"), chain.fresh("e2e-bob")]);
    for (const trainer of trainers) {
      const page = await (await browser.newContext()).newPage();
      await installWallet(page, trainer);
      await page.goto(`/tasks/${taskId}`);
      await connectWallet(page, trainer);
      await page.getByTestId("your-part").getByLabel("Public name").fill(trainer.name);
      await page.getByRole("button", { name: "Register as trainer" }).click();
      await signAndConfirm(page);
      await page.getByTestId("join-panel").getByRole("button", { name: /^Join and stake/ }).click();
      await signAndConfirm(page);
      await page.close();
    }

    // 5. Each trainer runs client.py on its own shard (v2: `fedchain data shards`), key from a 0600 mnemonic file.
    fedchain("data", "shards", "--dataset", "digits", "--count", "2", "--out", path.join(work, "data"));
    trainers.forEach((trainer, index) => {
      const keyFile = path.join(work, `${trainer.name}.mnemonic`);
      writeFileSync(keyFile, trainer.mnemonic);
      chmodSync(keyFile, 0o600);
      mkdirSync(path.join(work, "data"), { recursive: true });
      background(trainer.name, pythonPath(), [
        path.join(work, "client.py"), "--task", String(taskId), "--data", path.join(work, "data", `shard-${index + 1}`), "--key-file", keyFile,
      ]);
    });

    // 6. The open page shows each round arriving, without a reload.
    await orgPage.evaluate(() => ((window as unknown as { __notReloaded: boolean }).__notReloaded = true));
    for (const round of [1, 2, 3]) {
      await expect(orgPage.getByTestId(`round-row-${round}`)).toBeVisible({ timeout: 5 * 60_000 });
    }
    await expect(orgPage.locator("[data-status]").first()).toHaveAttribute("data-status", "finalized", { timeout: 120_000 });
    expect(await orgPage.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(true);

    // 7. Trainers claim in the UI; the chain pays what `claimable` announced.
    const task = await chain.reader.task(taskId);
    for (const trainer of trainers) {
      const claimable = await chain.reader.claimable(taskId, trainer.address);
      const before = await chain.balance(trainer.address);
      const page = await (await browser.newContext()).newPage();
      await installWallet(page, trainer);
      await page.goto(`/tasks/${taskId}`);
      await connectWallet(page, trainer);
      await page.getByTestId("claim-panel").getByRole("button", { name: /^Claim / }).click();
      await expect(txDialog(page)).toContainText("You can claim once.");
      await signAndConfirm(page);
      const received = (await chain.balance(trainer.address)) - before;
      expect(received).toBeGreaterThan(BigInt(claimable.amount) - 100_000n);
      await page.close();
    }

    // 8. Reconcile: everything that went in came out, and the contract holds nothing for the task
    //    but rounding dust (swept to the treasury after the claim window).
    const settled = await chain.reader.task(taskId);
    const paidIn = BigInt(task.pool) + BigInt(task.keeper_bond) + BigInt(task.stake) * BigInt(task.participants);
    expect(BigInt(settled.paid_out) + BigInt(settled.held)).toBe(paidIn);
    expect(BigInt(settled.held)).toBeLessThan(10n);
    readFileSync(path.join(work, "client.py")); // the work folder stays for inspection on failure
  });
});
