// Collections as a listener uses them: save a recording with one click, make a public
// collection from a recording's page, put another recording in it, reorder, and download
// it all as one ZIP (read back here: README, manifest, the originals); the collection page
// and a pack on an uploader's profile, as pictures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DESKTOP, SCREENSHOTS, launchBrowser, logIn, startSite } from './support.js';

let site;
let chrome;
before(async () => {
  site = await startSite();
  chrome = await launchBrowser();
  mkdirSync(SCREENSHOTS, { recursive: true });
});
after(async () => {
  await chrome?.close();
  await site?.stop();
});

/** Waits until the demo recording's original is stored (processing made its preview). */
async function ready(page, slug) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(`/recordings/${slug}`);
    if (await page.getByTestId('preview').count()) return;
    assert.ok(Date.now() < deadline, `${slug} is processed within 30 s`);
    await page.waitForTimeout(300);
  }
}

test('a listener saves, collects, reorders and downloads a collection', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP, acceptDownloads: true });
  const page = await logIn(context, site.baseURL, 'jonas');
  await ready(page, 'a-bee-circling-the-listener');
  // One click saves it; the button says so.
  await page.getByTestId('save').click();
  await page.waitForURL(/#collections$/);
  assert.match(await page.getByTestId('save').textContent(), /Saved/);
  // A new public collection, made from this page, with this recording in it.
  await page.locator('#collections summary', { hasText: 'Add to a new collection' }).click();
  await page.getByLabel('New collection').fill('Creatures in the round');
  await page.getByLabel(/Public/).check();
  await page.getByRole('button', { name: 'Make the collection' }).click();
  await page.waitForURL(/\/recordings\/a-bee-circling-the-listener#collections$/);
  assert.match(await page.getByTestId('recording-collections').textContent(), /Creatures in the round/);
  // Another recording into it, from its page.
  await ready(page, 'swift-fly-over');
  await page.getByTestId('add-to').selectOption({ label: 'Creatures in the round' });
  await page.getByTestId('add-to-collection').click();
  await page.waitForURL(/#collections$/);
  // The collection page: the swift first after one move up.
  await page.goto('/collections');
  await page.getByRole('link', { name: 'Creatures in the round' }).click();
  const items = page.getByTestId('collection-item');
  assert.equal(await items.count(), 2);
  await items.nth(1).getByTestId('item-up').click();
  await page.waitForURL(/#items$/);
  assert.match(await page.getByTestId('collection-item').first().textContent(), /Swift/);
  const url = page.url().replace(/#.*$/, '');
  // Anyone may see it (a public collection), and download it whole.
  const anonymous = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP, acceptDownloads: true });
  const visitor = await anonymous.newPage();
  await visitor.goto(url);
  assert.equal(await visitor.getByTestId('collection-kind').textContent(), 'A public collection');
  await visitor.screenshot({ path: join(SCREENSHOTS, 'collection-desktop.png'), fullPage: true });
  const [download] = await Promise.all([
    visitor.waitForEvent('download'),
    visitor.getByTestId('download-all').click(),
  ]);
  const path = join(tmpdir(), `ambisonia-collection-${process.pid}.zip`);
  await download.saveAs(path);
  const { execFileSync } = await import('node:child_process');
  const listed = execFileSync('python3', ['-c', [
    'import sys, zipfile, json, hashlib',
    'z = zipfile.ZipFile(sys.argv[1])',
    'assert z.testzip() is None',
    "m = json.loads(z.read('manifest.json'))",
    "assert all(hashlib.sha256(z.read(i['file'])).hexdigest() == i['sha256'] for i in m['items'])",
    "print(json.dumps([i['file'] for i in m['items']]))",
  ].join('\n'), path], { encoding: 'utf8' });
  const files = JSON.parse(listed);
  assert.equal(files.length, 2, listed);
  assert.match(files[0], /^001-swift-fly-over\./);
  await anonymous.close();
  await context.close();
});

test('an uploader publishes a pack; it shows on their profile', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP });
  const page = await logIn(context, site.baseURL, 'soundwalker');
  await page.goto('/collections');
  await page.getByLabel('New collection').fill('Synthesised fields');
  await page.getByLabel(/Public/).check();
  await page.getByRole('button', { name: 'Make the collection' }).click();
  await page.waitForURL(/\/collections\/synthesised-fields-/);
  for (const slug of ['a-bee-circling-the-listener', 'three-bells-around-and-above-third-order']) {
    await page.goto(`/recordings/${slug}`);
    await page.getByTestId('add-to').selectOption({ label: 'Synthesised fields' });
    await page.getByTestId('add-to-collection').click();
    await page.waitForURL(/#collections$/);
  }
  assert.match(await page.getByTestId('pack').first().textContent(), /Synthesised fields/);
  await page.goto('/users/soundwalker');
  assert.ok(await page.getByTestId('profile-pack').count(), 'the pack is on the profile');
  await page.getByTestId('profile-collections').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOTS, 'pack-on-profile-desktop.png') });
  await context.close();
});

test('a listener follows an uploader and sees their new recording on /following', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP });
  const page = await logIn(context, site.baseURL, 'listener');
  await page.goto('/users/marta');
  await page.getByTestId('follow').click();
  await page.waitForURL(/\/users\/marta$/);
  assert.equal(await page.getByTestId('follow').textContent(), 'Following (stop)');
  // Marta publishes something new (through the token API, as her Uploader does).
  const token = site.cli(['admin', 'create-token', '--username', 'marta', '--name', 'e2e']).match(/amb_\S+/)[0];
  const { fumaFile } = await import('./support.js');
  const res = await fetch(`${site.baseURL}/api/v1/recordings?title=${encodeURIComponent('Followed and found')}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: fumaFile(1),
  });
  assert.equal(res.status, 201, await res.text());
  // An editor publishes it (Marta's uploads wait for one).
  const editorContext = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP });
  const editor = await logIn(editorContext, site.baseURL, 'editor');
  await editor.goto('/moderation');
  await editor.getByTestId('pending').filter({ hasText: 'Followed and found' }).getByRole('button', { name: 'Publish' }).click();
  await editor.waitForLoadState();
  await editorContext.close();
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto('/following');
    if (await page.getByRole('link', { name: 'Followed and found' }).count()) break;
    assert.ok(Date.now() < deadline, 'the new recording shows on /following within 30 s');
    await page.waitForTimeout(500);
  }
  // Its private feed, for a podcast app.
  await page.getByTestId('new-following-feed').click();
  await page.waitForURL(/\/following#feed$/);
  const feed = await page.getByTestId('following-feed-url').textContent();
  const atom = await (await fetch(`${site.baseURL}${feed.replace('.rss', '.atom')}`)).text();
  assert.match(atom, /Followed and found/);
  await context.close();
});
