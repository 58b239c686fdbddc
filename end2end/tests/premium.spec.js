// Premium, as a listener meets it (JavaScript off): a premium download is refused with a
// page that says why, the listener subscribes through Stripe Checkout (the stand-in's page
// here), comes back to the success page, and downloads the original.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PASSWORD, DESKTOP, SCREENSHOTS, launchBrowser, startSite } from './support.js';

const RECORDING = '/recordings/beech-wood-at-dusk';

let site;
let chrome;
before(async () => {
  site = await startSite({ stripe: true });
  chrome = await launchBrowser();
});
after(async () => {
  await chrome?.close();
  await site?.stop();
});

test('a listener is refused a premium download, subscribes, and downloads it', async () => {
  const context = await chrome.browser.newContext({
    baseURL: site.baseURL, javaScriptEnabled: false, viewport: DESKTOP,
  });
  const page = await context.newPage();
  await page.goto('/register');
  await page.getByLabel('Username').fill('subscriber');
  await page.getByLabel('Email').fill('subscriber@example.org');
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${site.baseURL}/`);

  // The recording page says its downloads are premium; the download says why it is refused.
  await page.goto(RECORDING);
  assert.match(await page.getByTestId('premium-note').textContent(), /premium members/);
  const refused = await page.goto(`${RECORDING}/download`);
  assert.equal(refused.status(), 403);
  assert.match(await page.getByTestId('download-error').textContent(), /premium recording/);
  await page.screenshot({ path: join(SCREENSHOTS, 'premium-refusal-desktop.png'), fullPage: true });

  // The plans, with Stripe's prices; Subscribe leads to Stripe Checkout.
  await page.getByTestId('premium-link').click();
  await page.waitForURL(`${site.baseURL}/premium`);
  assert.match(await page.getByTestId('plan-monthly').textContent(), /\$5\.00 a month/);
  await page.screenshot({ path: join(SCREENSHOTS, 'premium-plans-desktop.png'), fullPage: true });
  await page.getByTestId('subscribe-monthly').click();
  await page.waitForURL(/\/checkout\/cs_/);
  assert.match(await page.getByTestId('checkout-item').textContent(), /\$5\.00 every 1 month/);
  await page.getByTestId('pay').click();

  // Back on the site: the success page has asked Stripe, and says so.
  await page.waitForURL(/\/premium\/welcome\?session_id=cs_/);
  await page.getByTestId('premium-welcome').waitFor();
  assert.ok(await page.getByTestId('premium-badge').isVisible());

  await page.goto('/account');
  assert.equal(await page.getByTestId('plan').textContent(), 'Monthly');
  assert.match(await page.getByTestId('renewal').textContent(), /Renews on/);
  await page.getByTestId('account-premium').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOTS, 'account-premium-desktop.png'), fullPage: true });

  // Now the original downloads.
  await page.goto(RECORDING);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'beech-wood-at-dusk.amb');
  const path = await download.path();
  assert.ok(statSync(path).size > 100_000, 'the whole original');

  // Manage billing leads to the Customer Portal; cancelling there reaches the site.
  await page.goto('/account');
  await page.getByTestId('manage-billing').click();
  await page.waitForURL(/\/portal\/cus_/);
  await page.getByTestId('portal-cancel').click();
  await page.getByTestId('portal-resume').waitFor();
  await page.getByTestId('portal-return').click();
  await page.waitForURL(`${site.baseURL}/account`);
  assert.match(await page.getByTestId('renewal').textContent(), /Cancelled: ends on/);
  await context.close();
});

test("the operator's guide's grant-premium command lets `listener` download a premium recording", async () => {
  const out = site.cli(['admin', 'grant-premium', '--username', 'listener', '--until', '2027-12-31']);
  assert.match(out, /listener is premium through 2027-12-31/);
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('listener');
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${site.baseURL}/`);
  await page.goto('/account');
  assert.match(await page.getByTestId('granted').textContent(), /through 31 December 2027/);
  await page.goto(RECORDING);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'beech-wood-at-dusk.amb');
  site.cli(['admin', 'revoke-premium', '--username', 'listener']);
  const refused = await page.goto(`${RECORDING}/download?format=binaural`);
  assert.equal(refused.status(), 403);
  await context.close();
});
