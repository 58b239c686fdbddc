// The embeddable player, as a blog on another site uses it: the blog's server reads the
// oEmbed discovery link from a recording page (as WordPress and friends do), the blog's page
// (a static file served from another origin) fetches that oEmbed JSON and puts its `html`
// in; the framed player plays (sound reaches its output) and turns; and the site's other
// pages, framed the same way, are refused by the browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { DESKTOP, SCREENSHOTS, freePort, launchBrowser, startSite } from './support.js';

const SLUG = 'a-bee-circling-the-listener';
let site;
let chrome;
let blog;
let blogURL;
let page = '';
before(async () => {
  site = await startSite();
  chrome = await launchBrowser();
  // The blog: whatever its page is, on another origin.
  const port = await freePort();
  blogURL = `http://127.0.0.1:${port}`;
  blog = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((ok) => blog.listen(port, '127.0.0.1', ok));
});
after(async () => {
  await chrome?.close();
  await site?.stop();
  await new Promise((ok) => blog?.close(ok) ?? ok());
});

/** The recording page once processing has made its previews; its HTML. */
async function readyPage() {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const html = await (await fetch(`${site.baseURL}/recordings/${SLUG}`)).text();
    if (html.includes('data-testid="spatial-player"')) return html;
    assert.ok(Date.now() < deadline, 'the spatial preview is made within 30 s');
    await new Promise((ok) => setTimeout(ok, 300));
  }
}

test('a page on another site embeds the player through oEmbed; it plays and turns', async (t) => {
  const html = await readyPage();
  // Discovery, as an oEmbed consumer does it: the <link> in the recording page's head.
  const link = html.match(/<link[^>]*type="application\/json\+oembed"[^>]*>/);
  assert.ok(link, 'the recording page names its oEmbed');
  const href = link[0].match(/href="([^"]+)"/)[1].replaceAll('&amp;', '&');
  assert.ok(href.startsWith(`${site.baseURL}/oembed?url=`), href);
  page = `<!doctype html><html><head><meta charset="utf-8"><title>A blog</title></head><body>
    <h1>My favourite recording</h1>
    <div id="player">loading…</div>
    <h2>And its page, framed the same way</h2>
    <iframe name="whole-page" src="${site.baseURL}/recordings/${SLUG}" width="480" height="300"></iframe>
    <iframe name="home" src="${site.baseURL}/" width="480" height="300"></iframe>
    <script>
      fetch(${JSON.stringify(href)}).then((r) => r.json()).then((o) => {
        document.getElementById('player').innerHTML = o.html;
        document.body.dataset.oembed = JSON.stringify({ type: o.type, width: o.width, height: o.height });
      });
    </script>
  </body></html>`;

  const context = await chrome.browser.newContext({ viewport: DESKTOP });
  const tab = await context.newPage();
  await tab.goto(blogURL);
  await tab.waitForSelector('#player iframe');
  const oembed = JSON.parse(await tab.locator('body').getAttribute('data-oembed'));
  assert.deepEqual(oembed, { type: 'rich', width: 480, height: 420 });
  const iframe = tab.locator('#player iframe');
  assert.equal(await iframe.getAttribute('src'), `${site.baseURL}/embed/${SLUG}`);
  const frame = tab.frameLocator('#player iframe');
  const player = frame.getByTestId('spatial-player');
  await player.waitFor({ state: 'visible' });
  assert.ok(await frame.getByTestId('embed-link').isVisible(), 'a link back');

  // Turning: the facing control answers the keyboard inside the frame.
  const yaw = frame.getByLabel('Facing');
  await yaw.focus();
  for (let i = 0; i < 3; i++) await yaw.press('ArrowRight');
  assert.equal(await yaw.inputValue(), '3');
  assert.equal(await yaw.getAttribute('aria-valuetext'), '3° left');

  // Playing, after the listener's click in the frame: sound reaches the player's output.
  await frame.locator('#spatial-title').click();
  const live = await frame.getByTestId('spatial-audio').evaluate(async (audio) => {
    audio.volume = 0.05;
    await audio.play();
    await new Promise((ok) => {
      const check = () => (audio.currentTime > 0.5 ? ok() : setTimeout(check, 50));
      check();
    });
    const { analyser } = window.AmbisoniaSpatial.live;
    const data = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      analyser.getFloatTimeDomainData(data);
      for (const v of data) peak = Math.max(peak, Math.abs(v));
      await new Promise((ok) => setTimeout(ok, 25));
    }
    return { peak, cookies: document.cookie };
  });
  t.diagnostic(`embedded player peak ${live.peak.toFixed(4)}`);
  assert.ok(live.peak > 1e-4, `the embedded player plays sound: peak ${live.peak}`);
  assert.equal(live.cookies, '', 'the embed sets no cookie');
  // Turned round while playing: the control still answers.
  await yaw.fill('180');
  await yaw.dispatchEvent('input');
  assert.equal(await frame.locator('[data-yaw-label]').textContent(), 'behind');

  // The site's other pages refuse to be framed: the browser shows its error page instead
  // (while the player's frame, checked the same way, shows the site's markup).
  const shows = (f) => f.evaluate(() => !!document.querySelector('[data-testid]')).catch(() => false);
  const embedded = tab.frames().find((f) => f.url().startsWith(`${site.baseURL}/embed/`));
  assert.equal(await shows(embedded), true, 'the check sees a page that is shown');
  for (const name of ['whole-page', 'home']) {
    const f = tab.frame({ name });
    t.diagnostic(`${name}: ${f.url()}`);
    assert.equal(await shows(f), false, `${name} is not shown inside another site`);
  }
  await tab.screenshot({ path: join(SCREENSHOTS, 'embed-desktop.png') });
  await context.close();
});
