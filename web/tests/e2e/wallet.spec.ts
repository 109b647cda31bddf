// Wallet: connect a Keplr-compatible wallet that does not know the chain yet.
import { connectWallet, expect, installWallet, saveScreenshot, test } from "../support/fixtures";

test("connecting suggests the chain to the wallet, then shows the address and balance", async ({ page, chain, stack }) => {
  const account = await chain.fresh("newcomer", 1_234_500_000n);
  await installWallet(page, account);
  await page.goto("/account");
  await page.getByRole("main").getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.getByTestId("account-address")).toHaveText(account.address);

  // The wallet did not know the chain: the app suggested it, then enabled it.
  const record = await page.evaluate(() => window.__testWallet);
  expect(record?.suggestedChains).toEqual([stack.chainId]);
  expect(record?.enabledChains).toContain(stack.chainId);
  await expect(page.getByTestId("account-wallet")).toContainText("added to your wallet just now");

  // Balance as the chain reports it, in display units, in the page and in the header.
  expect(await chain.balance(account.address)).toBe(1_234_500_000n);
  await expect(page.getByTestId("account-balance")).toHaveText("1,234.5 FED");
  await expect(page.getByTestId("wallet-balance")).toHaveText("1,234.5 FED");
  await expect(page.getByTestId("account-profile")).toContainText("is not registered yet");
  await saveScreenshot(page, "account");

  // Reloading reconnects without asking again (the wallet remembers the approval).
  await page.reload();
  await expect(page.getByTestId("wallet-account").locator(`[data-address="${account.address}"]`)).toBeVisible();
});

test("without a wallet the app says so instead of failing", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("banner").getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.getByTestId("wallet-error")).toContainText("No Keplr-compatible wallet");
});

test("the header connects too", async ({ page, chain }) => {
  const account = await chain.fresh("header");
  await installWallet(page, account);
  await page.goto("/");
  await connectWallet(page, account);
});
