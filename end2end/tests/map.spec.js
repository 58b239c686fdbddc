// The map as a visitor uses it: /map?tag=birds draws the birds' recordings as markers
// (clustered where they crowd) even though no tile loads here; a marker's popup links to its
// recording; without JavaScript the same page lists them by place. A picture of the map.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DESKTOP, SCREENSHOTS, launchBrowser, startSite } from './support.js';

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

test('the map shows the birds, and a popup leads to the recording', async (t) => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport: DESKTOP });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/map?tag=birds');
  await page.waitForFunction(() => document.querySelector('[data-map]')?.dataset.markers !== undefined);
  const markers = Number(await page.getByTestId('map').getAttribute('data-markers'));
  const listed = await page.locator('[data-testid="by-place"] li').count();
  t.diagnostic(`${markers} markers, ${listed} listed by place`);
  assert.ok(markers > 0 && markers === listed, `every listed recording is a marker (${markers} vs ${listed})`);
  // Zoomed to fit; a click on a cluster (or a marker) until a popup opens.
  const opened = await page.evaluate(async () => {
    const { map, cluster, markers } = window.AmbisoniaMap;
    const m = markers[0];
    const pause = (ms) => new Promise((ok) => setTimeout(ok, ms));
    // As a visitor clicking into the cluster: zoomed in as far as it goes, and a cluster of
    // recordings made at the same spot spread apart (its callback is not always called
    // when the map need not move, hence the time limit).
    await Promise.race([new Promise((ok) => cluster.zoomToShowLayer(m, ok)), pause(3000)]);
    const parent = cluster.getVisibleParent(m);
    if (parent && parent !== m && parent.spiderfy) {
      parent.spiderfy();
      await pause(500);
    }
    m.openPopup();
    await pause(300);
    return !!document.querySelector('.leaflet-popup [data-testid="map-popup-link"]');
  });
  assert.ok(opened, 'a popup with a link');
  await page.screenshot({ path: join(SCREENSHOTS, 'map-desktop.png') });
  const link = page.locator('.leaflet-popup [data-testid="map-popup-link"]');
  const title = await link.textContent();
  await link.click();
  await page.waitForURL(/\/recordings\//);
  assert.equal(await page.locator('h1').first().textContent(), title);
  assert.deepEqual(errors, [], 'no script errors');
  // Without JavaScript: the list by place.
  const plain = await chrome.browser.newContext({ baseURL: site.baseURL, javaScriptEnabled: false });
  const p2 = await plain.newPage();
  await p2.goto('/map?tag=birds');
  assert.equal(await p2.locator('[data-testid="by-place"] li').count(), listed);
  await plain.close();
  await context.close();
});
