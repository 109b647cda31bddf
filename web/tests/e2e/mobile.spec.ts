// The pages hold on a 390-px-wide phone screen: nothing is wider than the viewport.
import { acceptTask, createTask, ensureRegistered, joinTask, submitRound } from "../support/scenarios";
import { connectWallet, expect, horizontalOverflow, installWallet, saveScreenshot, test, txDialog } from "../support/fixtures";

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test("every main page fits a 390-px-wide screen", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "mobile-digits-with-a-rather-long-model-name", max_trainers: 2 } });
  await acceptTask(chain, taskId);
  const [alice, mallory] = await Promise.all([chain.fresh("alice"), chain.fresh("mallory")]);
  await joinTask(chain, alice, taskId);
  await joinTask(chain, mallory, taskId);
  await submitRound(chain, stack.kuboApi, taskId, {
    round: 1,
    value: "0.7",
    loss: "0.8",
    contributors: [{ trainer: alice, weight: 900 }],
    slashes: [{ trainer: mallory, reason: "non_finite", detail: "NaN in layer fc1.weight" }],
  });
  const organization = await chain.fresh("mobile-org");
  await ensureRegistered(chain, organization, { organization: true, trainer: true });
  await installWallet(page, organization);

  const pages: [string, string, () => Promise<void>][] = [
    ["/", "mobile-task-browser", () => expect(page.getByTestId(`task-card-${taskId}`)).toBeVisible()],
    [`/tasks/${taskId}`, "mobile-task-page", () => expect(page.getByTestId("slash")).toBeVisible()],
    ["/tasks/new", "mobile-create-task", () => expect(page.getByTestId("create-task-form")).toBeVisible()],
    ["/account", "mobile-account", () => expect(page.getByTestId("account-profile")).toBeVisible()],
  ];
  for (const [path, name, ready] of pages) {
    await page.goto(path);
    if (path === "/") await connectWallet(page, organization);
    await ready();
    expect(await horizontalOverflow(page), `${path} is wider than the screen`).toBeLessThanOrEqual(0);
    await saveScreenshot(page, name);
  }

  // A transaction dialog fits too.
  const newcomer = await chain.fresh("mobile-trainer");
  const trainerTask = await createTask(chain, stack.kuboApi, { terms: { model_name: "mobile-join" } });
  await acceptTask(chain, trainerTask);
  await ensureRegistered(chain, newcomer, { organization: false, trainer: true });
  const context = await page.context().browser()!.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await context.newPage();
  await installWallet(phone, newcomer);
  await phone.goto(`/tasks/${trainerTask}`);
  await connectWallet(phone, newcomer);
  await phone.getByTestId("join-panel").getByRole("button", { name: /^Join and stake/ }).click();
  await expect(txDialog(phone).getByTestId("tx-fee")).toContainText("FED");
  const box = await txDialog(phone).boundingBox();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(390);
  expect(await horizontalOverflow(phone)).toBeLessThanOrEqual(0);
  await saveScreenshot(phone, "mobile-join-dialog", { fullPage: false });
  await context.close();
});
