// Trainer: claim from a settled task, with what was earned or lost and why.
import { acceptTask, createTask, finalizeTask, joinTask, submitRound } from "../support/scenarios";
import { connectWallet, expect, installWallet, saveScreenshot, signAndConfirm, test, txDialog } from "../support/fixtures";

test("a contributor and a no-show claim through the UI; the chain pays what the page announced", async ({ browser, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "claim-digits", max_trainers: 2, rounds: 1 } });
  await acceptTask(chain, taskId);
  const [alice, bob] = await Promise.all([chain.fresh("alice"), chain.fresh("bob")]);
  await joinTask(chain, alice, taskId);
  await joinTask(chain, bob, taskId);
  await submitRound(chain, stack.kuboApi, taskId, { round: 1, value: "0.88", loss: "0.4", contributors: [{ trainer: alice, weight: 1000 }] });
  await finalizeTask(chain, taskId);
  const task = await chain.reader.task(taskId);

  for (const [trainer, expectation] of [
    [alice, { penalty: "0 FED", reason: "your weight 1000 is 100.0 % of all contributions" }],
    [bob, { penalty: "−0.5 FED", reason: "no-show: you contributed to no round" }],
  ] as const) {
    const claimable = await chain.reader.claimable(taskId, trainer.address);
    const context = await browser.newContext();
    const page = await context.newPage();
    await installWallet(page, trainer);
    await page.goto(`/tasks/${taskId}`);
    await connectWallet(page, trainer);
    const panel = page.getByTestId("claim-panel");
    await expect(panel.getByTestId("claim-total").locator(".amount")).toHaveAttribute("title", `${claimable.amount} ${task.denom}`);
    await expect(panel.getByTestId("claim-penalty")).toHaveText(expectation.penalty);
    await expect(panel).toContainText(expectation.reason);
    if (trainer === alice) await saveScreenshot(page, "claim");

    const before = await chain.balance(trainer.address);
    await panel.getByRole("button", { name: /^Claim / }).click();
    await expect(txDialog(page)).toContainText("You can claim once.");
    await signAndConfirm(page);
    const participant = await chain.reader.participant(taskId, trainer.address);
    expect(participant?.claimed).toBe(true);
    expect(participant?.claimed_amount).toBe(claimable.amount);
    const received = (await chain.balance(trainer.address)) - before;
    expect(received).toBeLessThanOrEqual(BigInt(claimable.amount));
    expect(received).toBeGreaterThan(BigInt(claimable.amount) - 100_000n); // less the claim's fee
    await expect(page.getByTestId("claimed")).toContainText("You claimed");
    await context.close();
  }
  // Reward for the sole contributor is the whole distributable amount.
  expect((await chain.reader.participant(taskId, alice.address))?.claimed_amount).toBe(
    String(5_000_000n + BigInt(task.distributable) + BigInt(task.trainer_compensation)),
  );
});
