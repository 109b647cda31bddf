// Live: rounds, slashes and the settlement arrive on an open task page without a reload, from
// the chain's own event stream.
import { acceptTask, createTask, finalizeTask, joinTask, submitRound } from "../support/scenarios";
import { expect, saveScreenshot, test } from "../support/fixtures";

test("rounds, a slash and the settlement appear live on the open task page", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "live-digits", max_trainers: 2, rounds: 3 } });
  await acceptTask(chain, taskId);
  const [alice, mallory] = await Promise.all([chain.fresh("alice"), chain.fresh("mallory")]);
  await joinTask(chain, alice, taskId);
  await joinTask(chain, mallory, taskId);

  await page.goto(`/tasks/${taskId}`);
  await expect(page.locator('[data-live="live"]').first()).toBeVisible();
  await page.evaluate(() => ((window as unknown as { __notReloaded: boolean }).__notReloaded = true));
  await expect(page.getByTestId("rounds-chart")).toHaveAttribute("data-points", "0");

  // Round 1, attested by the keeper with cosmjs: the page shows it without a reload.
  await submitRound(chain, stack.kuboApi, taskId, {
    round: 1,
    value: "0.62",
    loss: "1.21",
    contributors: [
      { trainer: alice, weight: 500 },
      { trainer: mallory, weight: 500 },
    ],
  });
  await expect(page.getByTestId("round-row-1")).toContainText("0.6200");
  await expect(page.getByTestId("rounds-completed")).toHaveText("1");
  await expect(page.locator("[data-status]").first()).toHaveAttribute("data-status", "running");
  await expect(page.getByTestId("rounds-chart")).toHaveAttribute("data-points", "1");
  await expect(page.getByTestId("activity")).toContainText("round 1 attested");

  // Round 2 with mallory slashed in the same transaction, evidence and all.
  await submitRound(chain, stack.kuboApi, taskId, {
    round: 2,
    value: "0.81",
    loss: "0.64",
    contributors: [{ trainer: alice, weight: 700 }],
    slashes: [{ trainer: mallory, reason: "norm_exceeded", detail: "update L2 norm 412.7 above the bound 50" }],
  });
  await expect(page.getByTestId("round-row-2")).toContainText("0.8100");
  const slash = page.getByTestId("slash");
  await expect(slash).toContainText("slashed in round 2");
  await expect(slash.getByTestId("slash-reason")).toContainText("norm_exceeded");
  await expect(slash.getByTestId("slash-detail")).toHaveText("update L2 norm 412.7 above the bound 50");
  const [recorded] = await chain.reader.slashes(taskId);
  await expect(slash.getByTestId("slash-evidence")).toHaveAttribute("href", new RegExp(`/ipfs/${recorded!.update_cid}$`));
  await expect(slash).toContainText(`update claim signed for task ${taskId}, round 2`);
  await expect(page.locator(`[data-trainer="${mallory.address}"]`).getByTestId("standing")).toHaveText("slashed");

  // Last round and the keeper's finalization: settlement appears.
  await submitRound(chain, stack.kuboApi, taskId, {
    round: 3,
    value: "0.9",
    loss: "0.31",
    contributors: [{ trainer: alice, weight: 800 }],
  });
  await finalizeTask(chain, taskId);
  await expect(page.locator("[data-status]").first()).toHaveAttribute("data-status", "finalized");
  const task = await chain.reader.task(taskId);
  await expect(page.getByTestId("settlement")).toBeVisible();
  await expect(page.getByTestId("settlement-held").locator(".amount")).toHaveAttribute("title", `${task.held} ${task.denom}`);
  await expect(page.getByTestId("rounds-chart")).toHaveAttribute("data-points", "3");

  // All of it arrived in the same document.
  expect(await page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(true);
  await saveScreenshot(page, "task-live-finalized");
});
