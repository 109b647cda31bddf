// Playwright fixtures: the running stack, a cosmjs hand on the chain, and a Keplr-compatible
// wallet for a page.
import { readFileSync } from "node:fs";
import path from "node:path";

import { test as base, expect, type Page } from "@playwright/test";

import { testWalletScript } from "../wallet/bundle";
import { type TestAccount, TestChain } from "./chain";
import { STACK_FILE, type StackInfo, WEB_DIR } from "./settings";

interface WorkerFixtures {
  stack: StackInfo;
  chain: TestChain;
}

// Worker-scoped, so `beforeAll` can set a scenario up on chain once for a whole file.
export const test = base.extend<object, WorkerFixtures>({
  stack: [
    async ({}, use) => {
      await use(JSON.parse(readFileSync(STACK_FILE, "utf8")) as StackInfo);
    },
    { scope: "worker" },
  ],
  chain: [
    async ({ stack }, use) => {
      const chain = new TestChain(stack);
      await use(chain);
      chain.disconnect();
    },
    { scope: "worker" },
  ],
});

export { expect };

/** Injects the test wallet holding `account`'s key into every document the page loads. */
export async function installWallet(page: Page, account: Pick<TestAccount, "mnemonic" | "name">): Promise<void> {
  await page.addInitScript({ content: testWalletScript({ mnemonic: account.mnemonic, keyName: account.name, knownChains: [] }) });
}

/** Presses "Connect wallet" in the header and waits for the connected address. */
export async function connectWallet(page: Page, account: Pick<TestAccount, "address">): Promise<void> {
  await page.getByRole("banner").getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.getByTestId("wallet-account").locator(`[data-address="${account.address}"]`)).toBeVisible();
}

/** The open transaction dialog. */
export const txDialog = (page: Page) => page.getByTestId("tx-dialog");

/** Waits for the fee, signs, and waits for the transaction's success in the dialog. */
export async function signAndConfirm(page: Page): Promise<string> {
  const dialog = txDialog(page);
  await expect(dialog.getByTestId("tx-fee")).toContainText("FED");
  await dialog.getByRole("button", { name: "Sign in wallet" }).click();
  await expect(dialog.getByTestId("tx-success")).toBeVisible({ timeout: 30_000 });
  const hash = (await dialog.getByTestId("tx-hash").textContent()) ?? "";
  await dialog.getByRole("button", { name: "Close" }).click();
  return hash;
}

/** No horizontal scrolling: the document is no wider than the viewport. */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/**
 * Saves a screenshot under web/screenshots/ (committed, shown in the README). Scrolled to the
 * top first: a full-page capture draws the sticky header where the page was scrolled to.
 */
/**
 * A screenshot of the page: into `test-results/screenshots/` on every run, and into the committed
 * `screenshots/` only with UPDATE_SCREENSHOTS=1, so a test run leaves the clone as it found it.
 */
export async function saveScreenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (options.fullPage ?? true) await page.evaluate(() => window.scrollTo(0, 0));
  const folder = process.env.UPDATE_SCREENSHOTS === "1" ? "screenshots" : path.join("test-results", "screenshots");
  await page.screenshot({ path: path.join(WEB_DIR, folder, `${name}.png`), fullPage: options.fullPage ?? true, animations: "disabled" });
}
