// An uploader sends a B-format recording through the upload form (with JavaScript: the
// progress bar moves), an editor publishes it, and a listener plays its stereo preview;
// then pictures of a recording page with its waveform and direction picture.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESKTOP, PHONE, SCREENSHOTS, fumaFile, launchBrowser, logIn as logInAs, startSite } from './support.js';

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

const logIn = (context, username) => logInAs(context, site.baseURL, username);

test('upload with progress, approve as editor, play the preview', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambisonia-upload-'));
  const file = join(dir, 'harbour.amb');
  writeFileSync(file, fumaFile(6));

  const uploaderContext = await chrome.browser.newContext({ baseURL: site.baseURL });
  const marta = await logIn(uploaderContext, 'marta');
  await marta.goto('/upload');
  // A slow line, so the progress bar has time to be seen moving.
  const cdp = await uploaderContext.newCDPSession(marta);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 400 * 1024,
  });
  await marta.locator('#u-file').setInputFiles(file);
  await marta.locator('#u-title').fill('Harbour at First Light');
  await marta.locator('#u-description').fill('Rigging and gulls, from the end of the pier.');
  await marta.getByRole('button', { name: 'Upload' }).click();
  await marta.waitForFunction(() => {
    const bar = document.querySelector('[data-testid=upload-progress]');
    return bar && !bar.hidden && bar.value > 0 && bar.value < 100;
  });
  assert.match(await marta.getByTestId('upload-status').textContent(), /Uploading… \d+ %/);
  await marta.waitForURL(/\/recordings\/harbour-at-first-light$/, { timeout: 30_000 });
  assert.match(await marta.getByTestId('status').textContent(), /Waiting for an editor/);

  const editorContext = await chrome.browser.newContext({ baseURL: site.baseURL });
  const editor = await logIn(editorContext, 'editor');
  await editor.goto('/moderation');
  const item = editor.getByTestId('pending').filter({ hasText: 'Harbour at First Light' });
  await item.getByRole('button', { name: 'Publish' }).click();
  await editor.waitForURL(`${site.baseURL}/moderation`);
  assert.equal(await editor.getByTestId('pending').filter({ hasText: 'Harbour at First Light' }).count(), 0);

  const listenerContext = await chrome.browser.newContext({ baseURL: site.baseURL });
  const listener = await listenerContext.newPage();
  const deadline = Date.now() + 30_000;
  for (;;) {
    await listener.goto('/recordings/harbour-at-first-light');
    if (await listener.getByTestId('preview').count()) break;
    assert.ok(Date.now() < deadline, 'the preview is made within 30 s');
    await listener.waitForTimeout(300);
  }
  const played = await listener.evaluate(async () => {
    const audio = document.querySelector('[data-testid=preview]');
    audio.muted = true;
    await audio.play();
    await new Promise((ok) => {
      const check = () => (audio.currentTime > 0.3 ? ok() : setTimeout(check, 50));
      check();
    });
    return { time: audio.currentTime, duration: audio.duration };
  });
  assert.ok(played.time > 0.3, `the preview plays (${played.time} s)`);
  assert.ok(Math.abs(played.duration - 6) < 0.2, `the preview is the recording's length (${played.duration} s)`);
  const images = await listener.evaluate(() =>
    [...document.querySelectorAll('figure img')].map((img) => ({ ok: img.complete && img.naturalWidth > 0, src: img.src })));
  assert.equal(images.length, 2);
  assert.ok(images.every((i) => i.ok), JSON.stringify(images));
  await uploaderContext.close();
  await editorContext.close();
  await listenerContext.close();
});

for (const [device, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`a recording with sound at ${device} width`, async () => {
    const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport });
    const page = await context.newPage();
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto('/recordings/a-bee-circling-the-listener');
      if (await page.getByTestId('direction').count()) break;
      assert.ok(Date.now() < deadline, 'the demo recording is processed within 30 s');
      await page.waitForTimeout(300);
    }
    await page.waitForFunction(() => [...document.querySelectorAll('figure img')].every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: join(SCREENSHOTS, `recording-with-sound-${device}.png`), fullPage: true });
    await context.close();
  });
}
