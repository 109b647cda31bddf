// Organization: register, create and fund a task with its files pinned by the app's server and
// the metric its client.py declares, then cancel it while that is allowed; a client.py whose
// settings cannot be read is refused before anything is pinned or created.
import { createHash } from "node:crypto";

import { TEST_KEEPER_FEE_BPS } from "../support/deploy";
import { ensureRegistered, exampleClientPy, exampleModel, MSE_SETTINGS, sha256Hex } from "../support/scenarios";
import { connectWallet, expect, installWallet, saveScreenshot, signAndConfirm, test, txDialog } from "../support/fixtures";

test("an organization registers, uploads its files, creates and funds a task, then cancels it", async ({ page, chain, stack }) => {
  const organization = await chain.fresh("acme", 1_000_000_000n);
  const keeper = await chain.dev("keeper");
  // A regression task: its rounds report mse, so the chain must name mse (the keeper checks).
  const client = exampleClientPy("acme", MSE_SETTINGS);
  const model = exampleModel();
  await installWallet(page, organization);
  await page.goto("/tasks/new");
  await connectWallet(page, organization);

  await page.getByTestId("register-organization").getByLabel("Public name").fill("Acme Health");
  await page.getByRole("button", { name: "Register as organization" }).click();
  await signAndConfirm(page);

  const form = page.getByTestId("create-task-form");
  await form.getByLabel("Model name").fill("acme-digits");
  await form.getByLabel("Description").fill("Digits from Acme's clinics");
  await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles({ name: "client.py", mimeType: "text/x-python", buffer: client });
  await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles({ name: "initial_model.safetensors", mimeType: "application/octet-stream", buffer: model });
  await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "pinned");
  await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
  await expect(form.getByTestId("task-metric-preview")).toContainText("Rounds report: mse (lower is better)");
  const clientCid = ((await form.getByTestId("pin-client-cid").textContent()) ?? "").replace("CID ", "").trim();

  // The server pinned exactly these bytes to Kubo.
  const pinned = await fetch(`${stack.kuboApi}/api/v0/cat?arg=${clientCid}`, { method: "POST" });
  expect(createHash("sha256").update(Buffer.from(await pinned.arrayBuffer())).digest("hex")).toBe(sha256Hex(client));

  await form.getByLabel("Keeper address").fill(keeper.address);
  await expect(form.getByTestId("keeper-info")).toContainText("localnet keeper: keeper fee 5 %");
  await expect(form.getByTestId("keeper-fee")).toContainText("You agree to a keeper fee of at most 5 %");
  await expect(form.getByTestId("escrow-summary")).toContainText("You escrow 100 FED now");
  await expect(form.getByTestId("escrow-summary")).toContainText("the contract holds 130 FED"); // 100 + 4 × 5 + 10
  await saveScreenshot(page, "create-task");

  const before = await chain.balance(organization.address);
  await form.getByRole("button", { name: "Create and fund the task" }).click();
  await expect(txDialog(page).getByTestId("tx-sends")).toHaveText("100 FED");
  await expect(txDialog(page)).toContainText("Escrows the reward pool of 100 FED");
  await expect(txDialog(page)).toContainText("Agrees to a keeper fee of at most 5 % of the delivered pool");
  await expect(txDialog(page)).toContainText("Rounds report mse (lower is better), as client.py declares.");
  const hash = await signAndConfirm(page);
  await expect(page.getByTestId("task-created")).toContainText(hash);
  await page.getByRole("link", { name: /^Open task #\d+$/ }).click();
  await expect(page).toHaveURL(/\/tasks\/\d+$/);
  const taskId = Number(page.url().split("/").at(-1));
  const task = await chain.reader.task(taskId);
  expect(task.organization).toBe(organization.address);
  expect(task.pool).toBe("100000000");
  expect(task.status).toBe("proposed");
  expect(task.client_cid).toBe(clientCid);
  expect(task.client_sha256).toBe(sha256Hex(client));
  expect(task.initial_model_sha256).toBe(sha256Hex(model));
  expect(task.keeper).toBe(keeper.address);
  expect(task.keeper_fee_bps).toBe(TEST_KEEPER_FEE_BPS);
  expect(task.metric).toEqual({ name: "mse", higher_is_better: false, at_most: null });
  const spent = before - (await chain.balance(organization.address));
  expect(spent).toBeGreaterThan(100_000_000n);
  expect(spent).toBeLessThan(100_000_000n + 200_000n);
  await expect(page.getByTestId("task-model")).toHaveText("acme-digits");
  await expect(page.getByTestId("task-metric")).toHaveText("mse (lower is better)");
  await expect(page.locator("[data-status]").first()).toHaveAttribute("data-status", "proposed");

  // Cancel while allowed: the pool comes back.
  await page.getByTestId("cancel-panel").getByRole("button", { name: "Cancel the task" }).click();
  await expect(txDialog(page)).toContainText("Sends the pool of 100 FED back to you.");
  const beforeCancel = await chain.balance(organization.address);
  await signAndConfirm(page);
  expect((await chain.reader.task(taskId)).status).toBe("cancelled");
  expect((await chain.balance(organization.address)) - beforeCancel).toBeGreaterThan(100_000_000n - 100_000n);
  await expect(page.locator("[data-status]").first()).toHaveAttribute("data-status", "cancelled");
  await expect(page.getByTestId("settlement")).toContainText("Cancelled by the organization");
});

test("a client.py without a SETTINGS literal is refused before pinning, and no task can be created", async ({ page, chain }) => {
  const organization = await chain.fresh("no-settings");
  await ensureRegistered(chain, organization, { organization: true, trainer: false });
  const keeper = await chain.dev("keeper");
  await installWallet(page, organization);
  await page.goto("/tasks/new");
  await connectWallet(page, organization);

  const form = page.getByTestId("create-task-form");
  await form.getByLabel("Model name").fill("no-settings");
  await form.getByTestId("pin-model").locator("input[type=file]").setInputFiles({ name: "initial_model.safetensors", mimeType: "application/octet-stream", buffer: exampleModel() });
  await expect(form.getByTestId("pin-model")).toHaveAttribute("data-state", "pinned");
  await form.getByLabel("Keeper address").fill(keeper.address);
  await expect(form.getByTestId("keeper-fee")).toContainText("You agree to a keeper fee of at most 5 %");

  // The one thing missing is a readable client.py.
  await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles({ name: "client.py", mimeType: "text/x-python", buffer: exampleClientPy("no-settings", "no SETTINGS") });
  await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "failed");
  await expect(form.getByTestId("pin-client").getByRole("alert")).toContainText(
    'Not pinned: client.py embeds no SETTINGS = ClientSettings.from_json(r"""…""") literal, so the keeper would refuse the task',
  );
  await expect(form.getByTestId("pin-client-cid")).toHaveCount(0);
  await expect(form.getByTestId("task-metric-preview")).toHaveCount(0);
  await expect(form.getByTestId("form-problem")).toHaveText("Upload client.py.");
  const create = form.getByRole("button", { name: "Create and fund the task" });
  await expect(create).toBeDisabled();
  await create.click({ force: true }); // a disabled button does nothing, even when pressed
  await expect(txDialog(page)).toHaveCount(0);
  expect(await page.evaluate(() => window.__testWallet?.signRequests.length)).toBe(0);
  expect(await chain.reader.tasks({ organization: organization.address })).toHaveLength(0);

  // A readable client.py then makes the form complete.
  await form.getByTestId("pin-client").locator("input[type=file]").setInputFiles({ name: "client.py", mimeType: "text/x-python", buffer: exampleClientPy("now-with-settings") });
  await expect(form.getByTestId("pin-client")).toHaveAttribute("data-state", "pinned");
  await expect(form.getByTestId("task-metric-preview")).toContainText("Rounds report: accuracy (higher is better, at most 1)");
  await expect(form.getByTestId("form-problem")).toHaveCount(0);
  await expect(create).toBeEnabled();
});
