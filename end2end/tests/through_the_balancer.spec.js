// The cache contract, in a browser: anonymous pages come from the balancer's cache, a
// logged-in listener never gets a cached page (nor leaves one behind), and a comment posted
// through the balancer is on the page the next anonymous visitor gets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_PASSWORD, freePort, launchBrowser, startBalancer, startSite } from './support.js';

let site;
let front;
let chrome;
before(async () => {
  const port = await freePort();
  site = await startSite({ publicURL: `http://127.0.0.1:${port}` });
  front = await startBalancer(port, [site.address]);
  chrome = await launchBrowser();
});
after(async () => {
  await chrome?.close();
  await front?.stop();
  await site?.stop();
});

test('anonymous pages are cached, personal ones never, and a comment shows at once', async () => {
  const anonymous = await chrome.browser.newContext({ baseURL: front.baseURL, javaScriptEnabled: false });
  const visitor = await anonymous.newPage();
  await visitor.goto('/recordings/dawn-chorus');
  const again = await visitor.goto('/recordings/dawn-chorus');
  assert.equal(again.headers()['x-cache'], 'HIT');

  const own = await chrome.browser.newContext({ baseURL: front.baseURL, javaScriptEnabled: false });
  const listener = await own.newPage();
  await listener.goto('/login');
  await listener.getByLabel('Username').fill('listener');
  await listener.getByLabel('Password').fill(DEMO_PASSWORD);
  await listener.getByRole('button', { name: 'Log in' }).click();
  await listener.waitForURL(`${front.baseURL}/`);

  const personal = await listener.goto('/recordings/dawn-chorus');
  assert.equal(personal.headers()['x-cache'], 'BYPASS');
  assert.equal(await listener.getByTestId('account-link').textContent(), 'listener');
  const before = await listener.getByTestId('comment').count();
  await listener.getByLabel('Your comment').fill('Heard through the front door.');
  await listener.getByRole('button', { name: 'Post comment' }).click();
  await listener.waitForURL(/\/recordings\/dawn-chorus#comments$/);
  assert.equal(await listener.getByTestId('comment').count(), before + 1);

  // The post dropped the cached page it redirected to: the next visitor sees the comment,
  // and nothing of the listener's own page.
  const fresh = await visitor.goto('/recordings/dawn-chorus');
  assert.equal(fresh.headers()['x-cache'], 'MISS');
  assert.equal(await visitor.getByTestId('comment').count(), before + 1);
  assert.equal(await visitor.getByTestId('account-link').count(), 0);
  await anonymous.close();
  await own.close();
});

test('feeds are cached like the pages they mirror', async () => {
  for (const path of ['/feed.atom', '/tags/birds/feed.rss', '/catalog/feed.atom?q=forest']) {
    const first = await fetch(`${front.baseURL}${path}`);
    assert.equal(first.status, 200, path);
    assert.match(first.headers.get('content-type'), /^application\/(atom|rss)\+xml/);
    await first.text();
    const second = await fetch(`${front.baseURL}${path}`);
    assert.equal(second.headers.get('x-cache'), 'HIT', path);
    assert.match(await second.text(), /<(entry|item)>/, `${path} has entries`);
  }
});
