// Pictures of the skin: home, catalog and a recording, at desktop and phone widths.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DESKTOP, PHONE, SCREENSHOTS, launchBrowser, startSite } from './support.js';

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

for (const [device, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  for (const [name, path] of [['home', '/'], ['catalog', '/catalog'], ['recording', '/recordings/dawn-chorus']]) {
    test(`${name} page at ${device} width`, async () => {
      const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport });
      const page = await context.newPage();
      const res = await page.goto(path);
      assert.equal(res.status(), 200);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `no sideways scrolling at ${viewport.width}px (overflow ${overflow}px)`);
      await page.screenshot({ path: join(SCREENSHOTS, `${name}-${device}.png`), fullPage: true });
      await context.close();
    });
  }
}
