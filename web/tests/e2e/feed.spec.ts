// Live: the keeper's feed (FEDCHAIN_FEED) shows what the chain cannot yet: a round started,
// updates accepted or rejected and why, before the round is attested.
import { KeeperFeed } from "../support/keeper-feed";
import { acceptTask, createTask, joinTask } from "../support/scenarios";
import { expect, test } from "../support/fixtures";

test("the keeper's live feed appears on the task page as it happens", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "feed-digits", max_trainers: 2 } });
  await acceptTask(chain, taskId);
  const [alice, mallory] = await Promise.all([chain.fresh("alice"), chain.fresh("mallory")]);
  await joinTask(chain, alice, taskId);
  await joinTask(chain, mallory, taskId);

  const feed = await KeeperFeed.start();
  try {
    await page.goto(`/tasks/${taskId}`);
    await expect(page.locator('[aria-label^="keeper feed"]')).toHaveAttribute("data-live", "live", { timeout: 20_000 });
    await feed.publish("trainer_connected", { task_id: taskId, node_id: 11, trainer: alice.address });
    await feed.publish("round_started", { task_id: taskId, round: 1, node_id: 11 });
    await feed.publish("update_accepted", { task_id: taskId, round: 1, trainer: alice.address, node_id: 11, weight: 640 });
    await feed.publish("update_rejected", {
      task_id: taskId,
      round: 1,
      trainer: mallory.address,
      node_id: 12,
      reason: "non-finite values in fc1.weight",
      malicious: true,
    });
    await feed.publish("round_attested", {
      task_id: taskId,
      round: 1,
      tx_hash: "A".repeat(64),
      model_cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      metric: "accuracy",
      value: 0.8125,
      loss: 0.52,
      federated_value: 0.8,
      validation_value: 0.8125,
      accepted: 1,
      rejected: 1,
    });
    await feed.publish("round_started", { task_id: taskId + 1000, round: 1, node_id: 99 }); // another task's: not shown

    const activity = page.getByTestId("activity");
    await expect(activity.locator('[data-source="keeper"]')).toHaveCount(5);
    await expect(activity.locator("li").filter({ hasText: "node 11 connected, bound to" })).toContainText(alice.address.slice(-6));
    await expect(activity).toContainText("round 1 sent to node 11");
    await expect(activity.locator("li").filter({ hasText: /update from .* accepted$/ })).toContainText(alice.address.slice(-6));
    await expect(activity).toContainText("rejected: non-finite values in fc1.weight (slashable)");
    await expect(activity).toContainText("round 1 attested: 1 accepted, 1 rejected, accuracy 0.8125");
    await expect(activity).not.toContainText("node 99");
  } finally {
    await feed.stop();
  }
  // Without its feed the page says it is reconnecting, and keeps working from the chain.
  await expect(page.locator('[aria-label^="keeper feed"]')).toHaveAttribute("data-live", /offline|connecting/, { timeout: 20_000 });
});
