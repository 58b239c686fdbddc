// One listener's first visit, with JavaScript off: register, log out, log in, search,
// open a recording, comment on it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startSite } from './support.js';

let site;
let chrome;
before(async () => {
  site = await startSite();
  chrome = await launchBrowser();
});
after(async () => {
  await chrome?.close();
  await site?.stop();
});

test('a new listener registers, logs in, searches, opens a recording and comments', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, javaScriptEnabled: false });
  const page = await context.newPage();

  await page.goto('/register');
  await page.getByLabel('Username').fill('newcomer');
  await page.getByLabel('Email').fill('newcomer@example.org');
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${site.baseURL}/`);
  assert.equal(await page.getByTestId('account-link').textContent(), 'newcomer');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${site.baseURL}/`);
  assert.equal(await page.getByTestId('account-link').count(), 0);

  await page.goto('/login');
  await page.getByLabel('Username').fill('newcomer');
  await page.getByLabel('Password').fill('wrong password here');
  await page.getByRole('button', { name: 'Log in' }).click();
  assert.match(await page.getByTestId('form-error').textContent(), /Wrong username or password/);
  await page.getByLabel('Username').fill('newcomer');
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${site.baseURL}/`);
  assert.equal(await page.getByTestId('account-link').textContent(), 'newcomer');

  await page.getByRole('searchbox', { name: 'Search recordings' }).fill('dawn chorus');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(/\/catalog\?q=dawn\+chorus/);
  assert.match(await page.getByTestId('result-count').textContent(), /3 recordings/);

  await page.getByRole('link', { name: 'Dawn Chorus', exact: true }).click();
  await page.waitForURL(/\/recordings\/dawn-chorus$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dawn Chorus');
  const before = await page.getByTestId('comment').count();

  await page.getByLabel('Title (optional)').fill('First listen');
  await page.getByLabel('Your comment').fill('The wren on the left is <b>so</b> close.');
  await page.getByRole('button', { name: 'Post comment' }).click();
  await page.waitForURL(/\/recordings\/dawn-chorus#comments$/);
  assert.equal(await page.getByTestId('comment').count(), before + 1);
  const last = page.getByTestId('comment').last();
  assert.match(await last.textContent(), /The wren on the left is <b>so<\/b> close\./);
  assert.match(await last.textContent(), /newcomer/);
  await context.close();
});
