// Every refusal is the contract's own, in plain words: before signing (simulation), or after it
// when the chain changed in between (the transaction is included and fails; its hash is shown).
import { acceptTask, createTask, ensureRegistered, exampleClientPy, exampleModel, joinTask } from "../support/scenarios";
import { connectWallet, expect, installWallet, saveScreenshot, test, txDialog } from "../support/fixtures";

test("the contract's refusal is shown in plain words before anything is signed", async ({ page, chain }) => {
  const organization = await chain.fresh("org-too-harsh");
  await ensureRegistered(chain, organization, { organization: true, trainer: false });
  const keeper = await chain.dev("keeper");
  await installWallet(page, organization);
  await page.goto("/tasks/new");
  await connectWallet(page, organization);

  const form = page.getByTestId("create-task-form");
  await form.getByLabel("Model name").fill("too-harsh");
  await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles({ name: "client.py", mimeType: "text/x-python", buffer: exampleClientPy() });
  await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles({ name: "initial_model.safetensors", mimeType: "application/octet-stream", buffer: exampleModel() });
  await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "pinned");
  await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
  await form.getByLabel("Keeper address").fill(keeper.address);
  await form.getByLabel("Slash (% of stake)").fill("60"); // above the contract's MAX_SLASH_BPS
  await form.getByRole("button", { name: "Create and fund the task" }).click();

  const error = txDialog(page).getByTestId("tx-error");
  await expect(error).toContainText("The contract refused this transaction: Slash_bps is 6000 bps, above the maximum of 5000 bps.");
  await expect(error).toContainText("Nothing was signed or sent.");
  await expect(txDialog(page).getByRole("button", { name: "Sign in wallet" })).toHaveCount(0);
  expect(await page.evaluate(() => window.__testWallet?.signRequests.length)).toBe(0);
  await saveScreenshot(page, "refused", { fullPage: false });
});

test("a transaction refused in its block shows its hash and the contract's reason", async ({ page, chain, stack }) => {
  const taskId = await createTask(chain, stack.kuboApi, { terms: { model_name: "one-seat", min_trainers: 1, max_trainers: 1 } });
  await acceptTask(chain, taskId);
  const [late, early] = await Promise.all([chain.fresh("late"), chain.fresh("early")]);
  await ensureRegistered(chain, late, { organization: false, trainer: true });
  await installWallet(page, late);
  await page.goto(`/tasks/${taskId}`);
  await connectWallet(page, late);

  // The join is simulated and priced while the seat is free…
  await page.getByTestId("join-panel").getByRole("button", { name: /^Join and stake/ }).click();
  const dialog = txDialog(page);
  await expect(dialog.getByTestId("tx-fee")).toContainText("FED");
  // …then someone else takes the last seat before the user signs.
  await joinTask(chain, early, taskId);
  const before = await chain.balance(late.address);
  await dialog.getByRole("button", { name: "Sign in wallet" }).click();

  const error = dialog.getByTestId("tx-error");
  await expect(error).toContainText(`The contract refused this transaction: Task ${taskId} is full (1 trainers).`);
  const hash = (await error.getByTestId("tx-hash").textContent()) ?? "";
  expect(hash).toMatch(/^[0-9A-F]{64}$/);
  // Included, failed, and it changed nothing but the fee.
  expect(await chain.reader.participant(taskId, late.address)).toBeNull();
  const fee = before - (await chain.balance(late.address));
  expect(fee).toBeGreaterThan(0n);
  expect(fee).toBeLessThan(100_000n);
});

test("a keeper that raises its fee after the organization saw it gets no task: the contract refuses", async ({ page, chain }) => {
  const [organization, keeper] = await Promise.all([chain.fresh("org-fee-watch"), chain.fresh("keeper-raises")]);
  await ensureRegistered(chain, organization, { organization: true, trainer: false });
  const register = (feeBps: number) =>
    chain.execute(keeper, { register_keeper: { name: "fickle keeper", endpoint: "127.0.0.1:1", tls_cert_sha256: null, fee_bps: feeBps } });
  await register(300);
  await installWallet(page, organization);
  await page.goto("/tasks/new");
  await connectWallet(page, organization);

  const form = page.getByTestId("create-task-form");
  await form.getByLabel("Model name").fill("fee-watch");
  await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles({ name: "client.py", mimeType: "text/x-python", buffer: exampleClientPy() });
  await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles({ name: "initial_model.safetensors", mimeType: "application/octet-stream", buffer: exampleModel() });
  await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
  await form.getByLabel("Keeper address").fill(keeper.address);
  await expect(form.getByTestId("keeper-fee")).toContainText("at most 3 %");
  await form.getByRole("button", { name: "Create and fund the task" }).click();
  const dialog = txDialog(page);
  await expect(dialog).toContainText("Agrees to a keeper fee of at most 3 %");
  await expect(dialog.getByTestId("tx-fee")).toContainText("FED");
  // The keeper raises its fee between the organization's preview and its signature.
  await register(900);
  await dialog.getByRole("button", { name: "Sign in wallet" }).click();
  await expect(dialog.getByTestId("tx-error")).toContainText(
    "The contract refused this transaction: The keeper's fee is now 900 bps, above the 300 bps the organization agreed to.",
  );
  expect((await chain.reader.tasks({ organization: organization.address })).length).toBe(0);
});
