// Trainer: register, join with the stake spelled out, leave before round 1, and get client.py
// only when its bytes hash to what the chain says.
import { readFileSync } from "node:fs";

import { acceptTask, createTask, exampleClientPy, joinTask, sha256Hex } from "../support/scenarios";
import { connectWallet, expect, installWallet, saveScreenshot, signAndConfirm, test, txDialog } from "../support/fixtures";

test("a trainer registers and joins through the UI, and the chain holds the stake", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "join-me", max_trainers: 3 } });
  await acceptTask(chain, taskId);
  const trainer = await chain.fresh("trainer-ui");
  const startBalance = await chain.balance(trainer.address);

  await installWallet(page, trainer);
  await page.goto(`/tasks/${taskId}`);
  await connectWallet(page, trainer);
  const yourPart = page.getByTestId("your-part");
  await expect(yourPart).toContainText("register this address as a trainer first");
  await yourPart.getByLabel("Public name").fill("alice");
  await yourPart.getByRole("button", { name: "Register as trainer" }).click();
  await expect(txDialog(page)).toContainText("Records “alice” as the public name");
  await signAndConfirm(page);
  expect((await chain.reader.profile(trainer.address))?.is_trainer).toBe(true);

  // The stake and everything it risks, spelled out before signing.
  const join = page.getByTestId("join-panel");
  await expect(join).toContainText("You stake 5 FED");
  await expect(join).toContainText("up to 10 % of it (0.5 FED)");
  await expect(join).toContainText("you lose 50 % (2.5 FED)");
  await expect(join).toContainText("it proves to the keeper with a claim signed by this address");
  await join.getByRole("button", { name: "Join and stake 5 FED" }).click();
  const dialog = txDialog(page);
  await expect(dialog.getByTestId("tx-sends")).toHaveText("5 FED");
  await expect(dialog).toContainText("If you contribute to no round");
  await saveScreenshot(page, "join-dialog", { fullPage: false });
  await signAndConfirm(page);

  const participant = await chain.reader.participant(taskId, trainer.address);
  expect(participant?.stake).toBe("5000000");
  expect(participant?.node_public_key ?? null).toBeNull(); // named later by `fedchain trainer train` (SetNodeKey)
  expect((await chain.reader.task(taskId)).participants).toBe(1);
  const spent = startBalance - (await chain.balance(trainer.address));
  expect(spent).toBeGreaterThan(5_000_000n); // the stake plus two network fees
  expect(spent).toBeLessThan(5_000_000n + 100_000n);

  await expect(page.getByTestId("participants-count")).toHaveText("1");
  await expect(page.getByTestId("participant-row").locator(".you-tag")).toBeVisible();
  await expect(page.getByTestId("your-role")).toContainText("You joined this task");
});

test("a trainer leaves before round 1 and takes the whole stake back", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "leave-me" } });
  await acceptTask(chain, taskId);
  const trainer = await chain.fresh("leaver");
  await joinTask(chain, trainer, taskId);
  const joinedBalance = await chain.balance(trainer.address);

  await installWallet(page, trainer);
  await page.goto(`/tasks/${taskId}`);
  await connectWallet(page, trainer);
  await page.getByTestId("leave-panel").getByRole("button", { name: "Leave and take the stake back" }).click();
  await expect(txDialog(page)).toContainText("Sends your full stake of 5 FED back to you.");
  await signAndConfirm(page);

  expect(await chain.reader.participant(taskId, trainer.address)).toBeNull();
  const back = (await chain.balance(trainer.address)) - joinedBalance;
  expect(back).toBeGreaterThan(5_000_000n - 100_000n); // the stake, less the leave's fee
  await expect(page.getByTestId("participants-count")).toHaveText("0");
  await expect(page.getByTestId("join-panel")).toBeVisible();
});

test("client.py is offered once its sha256 matches the chain, with the command that runs it", async ({ page, chain, stack }) => {
  const client = exampleClientPy("genuine");
  const taskId = await createTask(chain, stack.kuboApi, { client });
  const trainer = await chain.fresh("downloader");
  await installWallet(page, trainer);
  await page.goto(`/tasks/${taskId}`);
  await connectWallet(page, trainer);

  await page.getByRole("button", { name: "Get client.py (checked against the chain)" }).click();
  await expect(page.getByTestId("client-download")).toHaveAttribute("data-state", "verified");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("save-client").click()]);
  expect(download.suggestedFilename()).toBe("client.py");
  const saved = readFileSync(await download.path());
  expect(sha256Hex(saved)).toBe(sha256Hex(client));

  await expect(page.getByTestId("run-command")).toHaveText(`fedchain trainer train ${taskId} --key downloader --data ./data`);
  await page.getByLabel("Your data folder").fill("/home/alice/digits shard");
  await expect(page.getByTestId("run-command")).toHaveText(
    `fedchain trainer train ${taskId} --key downloader --data '/home/alice/digits shard'`,
  );
});

test("a tampered client.py is refused: the bytes served under the CID do not hash to the chain's sha256", async ({ page, chain, stack }) => {
  // The chain names a sha256 of other bytes than those pinned under client_cid.
  const served = exampleClientPy("tampered");
  const taskId = await createTask(chain, stack.kuboApi, { client: served, clientSha256: sha256Hex(exampleClientPy("genuine")) });
  await page.goto(`/tasks/${taskId}`);
  await page.getByRole("button", { name: "Get client.py (checked against the chain)" }).click();
  const refused = page.getByTestId("client-refused");
  await expect(refused).toContainText("does not match the hash on chain");
  await expect(refused).toContainText(sha256Hex(served));
  await expect(page.getByTestId("save-client")).toHaveCount(0);
  await expect(page.getByTestId("client-download")).toHaveAttribute("data-state", "mismatch");
});

test("once joins close with enough trainers the task is committed: leave is no longer offered", async ({ page, chain, stack }) => {
  const now = await chain.blockTime();
  const joinDeadline = now + 10;
  const taskId = await createTask(chain, stack.kuboApi, {
    terms: { model_name: "committed", min_trainers: 1, max_trainers: 2, join_deadline: joinDeadline, training_deadline: now + 3600 },
  });
  await acceptTask(chain, taskId);
  const trainer = await chain.fresh("committed");
  await joinTask(chain, trainer, taskId);
  await installWallet(page, trainer);
  await page.goto(`/tasks/${taskId}`);
  await connectWallet(page, trainer);
  await expect(page.getByTestId("leave-panel")).toBeVisible();

  // Past the join deadline (by block time) with one trainer of a minimum of one: committed.
  await expect.poll(() => chain.blockTime(), { timeout: 30_000 }).toBeGreaterThanOrEqual(joinDeadline);
  await expect(page.getByTestId("committed")).toContainText("can no longer be cancelled or left");
  await expect(page.getByTestId("leave-panel")).toHaveCount(0);
  // The contract agrees.
  await expect(chain.execute(trainer, { leave_task: { task_id: taskId } })).rejects.toThrow(/can no longer be cancelled or left/);
});
