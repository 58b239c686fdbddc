// The binaural player: the page's own decoder (public/spatial.js) renders the recording's
// spatial preview offline — noise from the left is louder in the left ear, louder in the
// right once the listener turns round, and noise from the front equal in both; the facing
// control answers the keyboard and the direction picture; the page turns fields of orders
// 1–3 as the media crate does; at the side it is at least as loud in the near ear as
// Omnitone's decoder of the same order from 4 to 16 kHz (first and third order); without
// JavaScript (or without Web Audio) the stereo preview plays as before; and pictures of the
// player.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DESKTOP, PHONE, SCREENSHOTS, fumaFile, launchBrowser, logIn, startSite } from './support.js';

let site;
let chrome;
let token;
before(async () => {
  site = await startSite();
  chrome = await launchBrowser();
  mkdirSync(SCREENSHOTS, { recursive: true });
  token = site.cli(['admin', 'create-token', '--username', 'marta', '--name', 'e2e']).match(/amb_\S+/)[0];
});
after(async () => {
  await chrome?.close();
  await site?.stop();
});

/** Deterministic white noise, so every run renders the same sound. */
function noise(seed) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 0.3 * (x / 1073741824 - 1);
  };
}

/** Uploads a plane wave of noise from `azimuthDeg` through the token API; its slug. */
async function upload(title, azimuthDeg) {
  const next = noise(azimuthDeg + 7);
  const body = fumaFile(3, { azimuthDeg, signal: () => next() });
  const res = await fetch(`${site.baseURL}/api/v1/recordings?title=${encodeURIComponent(title)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text).slug;
}

/** Opens a recording once processing has made its previews. */
async function openWhenReady(page, slug) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(`/recordings/${slug}`);
    if (await page.getByTestId('preview').count()) return;
    assert.ok(Date.now() < deadline, 'the spatial preview is made within 30 s');
    await page.waitForTimeout(300);
  }
}

/** Renders the page's spatial preview through the page's decoder, facing each of `yaws`:
 *  the RMS level of each ear in dB, after the first 100 ms. */
function renderFacing(page, yaws) {
  return page.evaluate(async (yaws) => {
    const rate = 48000;
    const filters = await (await fetch(`/binaural/${rate}.json`)).json();
    const bytes = await (await fetch(`${location.pathname}/spatial.ogg`)).arrayBuffer();
    const results = [];
    for (const yaw of yaws) {
      const context = new OfflineAudioContext(2, rate * 2, rate);
      const buffer = await context.decodeAudioData(bytes.slice(0));
      const source = new AudioBufferSourceNode(context, { buffer });
      const decoder = window.AmbisoniaSpatial.createDecoder(context, filters);
      decoder.setOrientation(yaw);
      source.connect(decoder.input);
      decoder.output.connect(context.destination);
      source.start();
      const out = await context.startRendering();
      const db = (c) => {
        const d = out.getChannelData(c).subarray(rate / 10);
        let sum = 0;
        for (const v of d) sum += v * v;
        return 10 * Math.log10(sum / d.length);
      };
      results.push({ yaw, channels: buffer.numberOfChannels, left: db(0), right: db(1) });
    }
    return results;
  }, yaws);
}

test('the page’s own decoder puts a source where it is, and turns with the listener', async (t) => {
  const fromLeft = await upload('Noise from the left', 90);
  const fromFront = await upload('Noise from the front', 0);
  const context = await chrome.browser.newContext({ baseURL: site.baseURL });
  const page = await logIn(context, site.baseURL, 'marta');

  await openWhenReady(page, fromLeft);
  assert.ok(await page.getByTestId('spatial-player').isVisible(), 'the player shows where Web Audio plays Vorbis');
  const [ahead, turned] = await renderFacing(page, [0, 180]);
  t.diagnostic(`source on the left, facing front: L ${ahead.left.toFixed(1)} dB, R ${ahead.right.toFixed(1)} dB; turned 180°: L ${turned.left.toFixed(1)} dB, R ${turned.right.toFixed(1)} dB`);
  assert.equal(ahead.channels, 4, 'the spatial preview decodes to four channels');
  // First order spreads a source widely: the level difference is a few dB, not a real
  // head's 10–20 (media/src/hrtf.rs); 3 dB is a clear side.
  assert.ok(ahead.left - ahead.right > 3, `source on the left: left ${ahead.left.toFixed(1)} dB, right ${ahead.right.toFixed(1)} dB`);
  assert.ok(turned.right - turned.left > 3, `turned 180°: left ${turned.left.toFixed(1)} dB, right ${turned.right.toFixed(1)} dB`);

  await openWhenReady(page, fromFront);
  const [front] = await renderFacing(page, [0]);
  t.diagnostic(`source in front: L ${front.left.toFixed(2)} dB, R ${front.right.toFixed(2)} dB`);
  assert.ok(Math.abs(front.left - front.right) < 1, `source in front: left ${front.left.toFixed(2)} dB, right ${front.right.toFixed(2)} dB`);
  await context.close();
});

test('the page turns sound fields of every order as the media crate does', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL });
  const page = await context.newPage();
  await openWhenReady(page, 'a-bee-circling-the-listener');
  const worst = await page.evaluate(() => {
    const { sn3d, rotation, rotator } = window.AmbisoniaSpatial;
    const apply = (r, d) => [0, 1, 2].map((i) => r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2]);
    const direction = (az, el) => [Math.cos(az) * Math.cos(el), Math.sin(az) * Math.cos(el), Math.sin(el)];
    let worst = 0;
    for (let k = 0; k < 200; k++) {
      const r = rotation(360 * Math.random() - 180, 180 * Math.random() - 90, 360 * Math.random() - 180);
      const d = direction(2 * Math.PI * Math.random(), Math.asin(2 * Math.random() - 1));
      for (let order = 1; order <= 3; order++) {
        const m = rotator.matrix(r, order);
        const b = sn3d(d), want = sn3d(apply(r, d));
        for (let i = 0; i < m.length; i++) {
          const got = m[i].reduce((s, g, j) => s + g * b[j], 0);
          worst = Math.max(worst, Math.abs(got - want[i]));
        }
      }
    }
    // media/src/sh.rs's known answer: 40° left, 25° up, turned by yaw 30°, pitch 20°, roll 10°.
    const known = [1.000000000, 0.847969820, 0.248703238, 0.468074656, 0.687473797, 0.365277114,
      -0.407220049, 0.201630949, -0.432977136, -0.041410092, 0.382316104, -0.358679493,
      -0.334597067, -0.197989099, -0.240786096, -0.717172084];
    const m = rotator.matrix(rotation(30, 20, 10), 3);
    const b = sn3d(direction(40 * Math.PI / 180, 25 * Math.PI / 180));
    known.forEach((want, i) => {
      worst = Math.max(worst, Math.abs(m[i].reduce((s, g, j) => s + g * b[j], 0) - want));
    });
    return worst;
  });
  assert.ok(worst < 1e-5, `encode-then-turn equals turn-then-encode, and the known answer: worst error ${worst}`);
  await context.close();
});

test('the page’s decoder beside Omnitone’s: level differences at the side, band by band', async (t) => {
  // Omnitone (npm, Apache-2.0; SH-domain filters from SADIE's KU100) is loaded into the page
  // from end2end's own node_modules: the reference, not part of the site.
  const omnitone = createRequire(import.meta.url).resolve('omnitone/build/omnitone.min.js');
  const context = await chrome.browser.newContext({ baseURL: site.baseURL, bypassCSP: true });
  const page = await context.newPage();
  await openWhenReady(page, 'a-bee-circling-the-listener');
  await page.addScriptTag({ path: omnitone });
  const bands = await page.evaluate(async () => {
    const rate = 48000, seconds = 2;
    // A plane wave of white noise from 90° left, ACN/SN3D: each channel is s times that
    // channel's harmonic of the direction.
    let x = 7;
    const s = Float32Array.from({ length: rate * seconds }, () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return 0.25 * (x / 1073741824 - 1);
    });
    const render = async (order, make) => {
      const context = new OfflineAudioContext(2, rate * seconds, rate);
      const harmonics = window.AmbisoniaSpatial.sn3d([0, 1, 0]).slice(0, (order + 1) ** 2);
      const buffer = new AudioBuffer({ numberOfChannels: harmonics.length, length: s.length, sampleRate: rate });
      harmonics.forEach((y, c) => buffer.copyToChannel(s.map((v) => v * y), c));
      const source = new AudioBufferSourceNode(context, { buffer });
      const decoder = await make(context);
      source.connect(decoder.input);
      decoder.output.connect(context.destination);
      source.start();
      const out = await context.startRendering();
      return [out.getChannelData(0), out.getChannelData(1)];
    };
    // Band powers by Welch's method: 4096-point Hann-windowed frames, an FFT each.
    const fft = (re, im) => {
      const n = re.length;
      for (let i = 1, j = 0; i < n; i++) {
        let bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
      }
      for (let len = 2; len <= n; len <<= 1) {
        const ang = (-2 * Math.PI) / len;
        for (let i = 0; i < n; i += len) {
          for (let k = 0; k < len / 2; k++) {
            const [c, d] = [Math.cos(ang * k), Math.sin(ang * k)];
            const [a, b] = [i + k, i + k + len / 2];
            const tr = re[b] * c - im[b] * d, ti = re[b] * d + im[b] * c;
            re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
          }
        }
      }
    };
    const BANDS = [[1000, 2000], [2000, 4000], [4000, 8000], [8000, 16000]];
    const power = (signal) => {
      const n = 4096, sums = BANDS.map(() => 0);
      for (let start = rate / 10; start + n <= signal.length; start += n / 2) {
        const re = new Float64Array(n), im = new Float64Array(n);
        for (let i = 0; i < n; i++) re[i] = signal[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
        fft(re, im);
        BANDS.forEach(([lo, hi], b) => {
          for (let k = Math.ceil((lo * n) / rate); k < (hi * n) / rate; k++) sums[b] += re[k] * re[k] + im[k] * im[k];
        });
      }
      return sums;
    };
    const ild = ([left, right]) => {
      const [l, r] = [power(left), power(right)];
      return l.map((v, b) => 10 * Math.log10(v / r[b]));
    };
    const orders = [];
    for (const order of [1, 2, 3]) {
      const filters = await (await fetch(`/binaural/${rate}-${order}.json`)).json();
      const ours = ild(await render(order, async (c) => window.AmbisoniaSpatial.createDecoder(c, filters)));
      const theirs = ild(await render(order, async (c) => {
        if (order === 1) {
          const renderer = window.Omnitone.createFOARenderer(c);
          await renderer.initialize();
          return renderer;
        }
        const renderer = window.Omnitone.createHOARenderer(c, { ambisonicOrder: order });
        await renderer.initialize();
        // Its rotator takes a matrix in Web Audio's frame and turns the field by it with
        // Y and X negated: what makes its blocks the identity is this, not the identity
        // (which would face the listener backwards: the source heard on the right).
        renderer.setRotationMatrix3(new Float32Array([-1, 0, 0, 0, 1, 0, 0, 0, -1]));
        return renderer;
      }));
      orders.push({ order, ours, theirs, head: filters.head });
    }
    return { orders, bands: BANDS };
  });
  const row = (name, v) => `${name}: ${v.map((d) => d.toFixed(1).padStart(5)).join(' / ')} dB`;
  t.diagnostic('ILD at 90°, 1–2 / 2–4 / 4–8 / 8–16 kHz');
  for (const { order, ours, theirs, head } of bands.orders) {
    t.diagnostic(row(`Ambisonia, order ${order} (MagLS, ${head.padEnd(20)})`, ours));
    t.diagnostic(row(`Omnitone,  order ${order} (SADIE's KU100        )`, theirs));
  }
  // Held at the orders issue 25's goals name, first and third; at second order Omnitone's
  // 8–16 kHz is a little above ours (and its 4–8 kHz well below): printed, not held.
  for (const { order, ours, theirs } of bands.orders.filter((o) => o.order !== 2)) {
    for (const b of [2, 3]) {
      assert.ok(ours[b] >= theirs[b],
        `order ${order}, ${bands.bands[b].join('–')} Hz: ours ${ours[b].toFixed(1)} dB, Omnitone's ${theirs[b].toFixed(1)} dB`);
    }
  }
  await context.close();
});

test('a third-order recording plays at third order from its two streams', async (t) => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL });
  const page = await context.newPage();
  const slug = 'three-bells-around-and-above-third-order';
  await openWhenReady(page, slug);
  const player = page.getByTestId('spatial-player');
  assert.equal(await player.getAttribute('data-spatial-order'), '3');
  // Offline, through the page's own decoder at third order: the first bell's strike (40°
  // left, at 0.2 s), with the listener turned 50° right so that it is square on the left, is
  // louder in the left ear above 3 kHz, and in the right once the listener turns round.
  const levels = await page.evaluate(async (slug) => {
    const rate = 48000;
    const filters = await (await fetch(`/binaural/${rate}-3.json`)).json();
    const decode = async (n) => {
      const bytes = await (await fetch(`/recordings/${slug}/spatial-hoa-${n}.ogg`)).arrayBuffer();
      return new OfflineAudioContext(8, rate, rate).decodeAudioData(bytes);
    };
    const [first, rest] = [await decode(1), await decode(2)];
    // How this browser orders eight decoded channels, as the player learns it.
    const where = await window.AmbisoniaSpatial.channelOrder(new OfflineAudioContext(8, rate, rate));
    const results = [];
    for (const yaw of [-50, 130]) {
      const context = new OfflineAudioContext(2, rate, rate);
      const field = new AudioBuffer({ numberOfChannels: 16, length: rate, sampleRate: rate });
      for (let k = 0; k < 16; k++) {
        const from = k < 8 ? first.getChannelData(k) : rest.getChannelData(k - 8);
        field.copyToChannel(from.subarray(0, rate), (k < 8 ? 0 : 8) + where[k % 8]);
      }
      const source = new AudioBufferSourceNode(context, { buffer: field });
      const decoder = window.AmbisoniaSpatial.createDecoder(context, filters);
      decoder.setOrientation(yaw);
      source.connect(decoder.input);
      // Above 3 kHz, where the head shadows the far ear (the bell's strike).
      const high = new BiquadFilterNode(context, { type: 'highpass', frequency: 3000, Q: 0.7 });
      decoder.output.connect(high).connect(context.destination);
      source.start();
      const out = await context.startRendering();
      const db = (c) => {
        const d = out.getChannelData(c).subarray(rate * 0.2, rate * 0.45);
        let sum = 0;
        for (const v of d) sum += v * v;
        return 10 * Math.log10(sum / d.length);
      };
      results.push({ yaw, where, channels: [first.numberOfChannels, rest.numberOfChannels], order: decoder.order, left: db(0), right: db(1) });
    }
    return results;
  }, slug);
  const [ahead, turned] = levels;
  t.diagnostic(`eight decoded channels carry stream channels ${ahead.where.join(' ')}`);
  t.diagnostic(`first bell on the left: L ${ahead.left.toFixed(1)} dB, R ${ahead.right.toFixed(1)} dB; turned: L ${turned.left.toFixed(1)} dB, R ${turned.right.toFixed(1)} dB`);
  assert.deepEqual(ahead.channels, [8, 8], 'two 8-channel streams');
  assert.equal(ahead.order, 3);
  // (11.3 dB here; 11.7 dB decoded from the PCM original; docs/operating.md.)
  assert.ok(ahead.left - ahead.right > 8, `bell on the left: ${ahead.left.toFixed(1)} vs ${ahead.right.toFixed(1)} dB`);
  assert.ok(turned.right - turned.left > 8, `turned round: ${turned.left.toFixed(1)} vs ${turned.right.toFixed(1)} dB`);

  // Playing (after a click, as a listener's gesture): the page chooses third order, sound
  // reaches the output, and the second stream keeps in step with the first.
  await page.mouse.click(5, 5);
  await page.getByTestId('spatial-audio').evaluate(async (audio) => {
    audio.volume = 0.05;
    await audio.play();
  });
  await page.waitForFunction(() => document.querySelector('[data-spatial-player]').dataset.playingOrder);
  assert.equal(await player.getAttribute('data-playing-order'), '3');
  assert.match(await page.locator('[data-spatial-status]').textContent(), /order 3 \(16 channels\), through the KU100 dummy head/);
  const live = await page.evaluate(async () => {
    await new Promise((ok) => setTimeout(ok, 1500));
    const { analyser, streams } = window.AmbisoniaSpatial.live;
    const data = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      analyser.getFloatTimeDomainData(data);
      for (const v of data) peak = Math.max(peak, Math.abs(v));
      await new Promise((ok) => setTimeout(ok, 25));
    }
    return { peak, drift: Math.abs(streams[0].currentTime - streams[1].currentTime), playing: streams.map((s) => !s.paused) };
  });
  t.diagnostic(`live: peak ${live.peak.toFixed(4)}, streams ${(live.drift * 1000).toFixed(0)} ms apart`);
  assert.ok(live.peak > 1e-4, `the page plays sound: peak ${live.peak}`);
  assert.deepEqual(live.playing, [true, true]);
  assert.ok(live.drift < 0.1, `the streams in step: ${live.drift} s apart`);
  await context.close();
});

test('the facing control answers the keyboard, the picture and the reset button', async () => {
  const context = await chrome.browser.newContext({ baseURL: site.baseURL });
  const page = await context.newPage();
  await openWhenReady(page, 'a-bee-circling-the-listener');
  const yaw = page.getByLabel('Facing');
  await yaw.focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await yaw.inputValue(), '2');
  assert.equal(await yaw.getAttribute('aria-valuetext'), '2° left');
  // A quarter of the way down the direction picture is the left (+90°).
  const frame = page.locator('.direction-frame');
  await frame.scrollIntoViewIfNeeded();
  const box = await frame.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 4);
  assert.equal(await yaw.inputValue(), '90');
  assert.equal(await page.locator('[data-yaw-label]').textContent(), '90° left');
  await page.getByRole('button', { name: 'Face front' }).click();
  assert.equal(await yaw.inputValue(), '0');
  // Playing (the clicks above were the listener's gesture) moves the playhead across the
  // picture, and sound reaches the output.
  const peak = await page.getByTestId('spatial-audio').evaluate(async (audio) => {
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
    return peak;
  });
  assert.ok(peak > 1e-4, `the first-order player plays sound: peak ${peak}`);
  const left = await page.locator('.playhead').evaluate((el) => parseFloat(el.style.left));
  assert.ok(left > 0, `the playhead moved (${left} %)`);
  await context.close();
});

async function stereoPlays(page) {
  return page.evaluate(async () => {
    const audio = document.querySelector('[data-testid=preview]');
    audio.muted = true;
    await audio.play();
    await new Promise((ok) => {
      const check = () => (audio.currentTime > 0.3 ? ok() : setTimeout(check, 50));
      check();
    });
    return audio.currentTime;
  });
}

test('without JavaScript, or without Web Audio, the stereo preview is the player', async () => {
  const noScript = await chrome.browser.newContext({ baseURL: site.baseURL, javaScriptEnabled: false });
  const page = await noScript.newPage();
  await openWhenReady(page, 'a-bee-circling-the-listener');
  assert.ok(await page.getByTestId('preview').isVisible(), 'the stereo preview is on the page');
  assert.ok(await page.getByTestId('spatial-player').isHidden(), 'the binaural player stays hidden');
  const src = await page.getByTestId('preview').getAttribute('src');
  const res = await fetch(`${site.baseURL}${src}`);
  assert.equal(res.headers.get('content-type'), 'audio/ogg');
  assert.ok((await res.arrayBuffer()).byteLength > 1000);
  await noScript.close();

  const noWebAudio = await chrome.browser.newContext({ baseURL: site.baseURL });
  await noWebAudio.addInitScript(() => {
    delete window.AudioContext;
    delete window.webkitAudioContext;
  });
  const old = await noWebAudio.newPage();
  await openWhenReady(old, 'a-bee-circling-the-listener');
  assert.ok(await old.getByTestId('spatial-player').isHidden(), 'no Web Audio: no binaural player');
  assert.ok((await stereoPlays(old)) > 0.3, 'and the stereo preview plays');
  await noWebAudio.close();
});

for (const [device, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`a picture of the binaural player (${device})`, async () => {
    const context = await chrome.browser.newContext({ baseURL: site.baseURL, viewport });
    const page = await context.newPage();
    await openWhenReady(page, 'a-bee-circling-the-listener');
    await page.getByLabel('Facing').fill('60');
    await page.getByTestId('spatial-audio').evaluate(async (audio) => {
      audio.muted = true;
      await audio.play();
      await new Promise((ok) => {
        const check = () => (audio.currentTime > 2 ? ok() : setTimeout(check, 50));
        check();
      });
      audio.pause();
    });
    await page.locator('.listen').screenshot({ path: join(SCREENSHOTS, `spatial-player-${device}.png`) });
    await context.close();
  });
}
