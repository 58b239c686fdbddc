// A large recording goes straight from the browser to the S3 bucket in parts; the first
// attempt at one part fails (the connection drops) and is retried; the server completes,
// inspects and keeps it. Runs against the test S3 server (moto) that scripts/test starts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_PASSWORD, launchBrowser, startSite } from './support.js';

let site;
let chrome;
before(async () => {
  // Every file of 1 MiB or more goes direct, so a 20 MB file makes three 8 MiB parts.
  site = await startSite({ s3: true, directFromMb: 1 });
  chrome = await launchBrowser();
});
after(async () => {
  await chrome?.close();
  await site?.stop();
});

/** A FuMa .amb of `bytes` (header + pseudo-random samples). */
function ambFile(bytes) {
  const dataLen = Math.floor((bytes - 68) / 12) * 12;
  const buf = Buffer.alloc(68 + dataLen);
  let o = 0;
  const str = (s) => { buf.write(s, o, 'ascii'); o += s.length; };
  const u16 = (v) => { buf.writeUInt16LE(v, o); o += 2; };
  const u32 = (v) => { buf.writeUInt32LE(v, o); o += 4; };
  str('RIFF'); u32(buf.length - 8); str('WAVE');
  str('fmt '); u32(40); u16(0xfffe); u16(4); u32(48000); u32(48000 * 12); u16(12); u16(24); u16(22); u16(24); u32(0);
  Buffer.from([1, 0, 0, 0, 0x21, 0x07, 0xd3, 0x11, 0x86, 0x44, 0xc8, 0xc1, 0xca, 0, 0, 0]).copy(buf, o); o += 16;
  str('data'); u32(dataLen);
  let x = 12345;
  for (; o < buf.length; o++) { x = (x * 1103515245 + 12345) & 0x7fffffff; buf[o] = (x >> 16) & 0x3f; }
  return buf;
}

test('a large file goes straight to the bucket, one part retried', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambisonia-direct-'));
  const file = join(dir, 'long-take.amb');
  writeFileSync(file, ambFile(20 * 1000 * 1000));

  const context = await chrome.browser.newContext({ baseURL: site.baseURL });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('marta');
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${site.baseURL}/`);
  await page.goto('/upload');
  assert.equal(await page.locator('form[data-direct="s3"]').count(), 1, 'the form knows media is in S3');

  // The first attempt at part 2 never arrives.
  let dropped = 0;
  const parts = new Set();
  await context.route(/partNumber=\d+/, async (route) => {
    const n = new URL(route.request().url()).searchParams.get('partNumber');
    parts.add(n);
    if (n === '2' && dropped === 0) {
      dropped += 1;
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await page.locator('#u-file').setInputFiles(file);
  await page.locator('#u-title').fill('Long Take by the Weir');
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.waitForURL(/\/recordings\/long-take-by-the-weir$/, { timeout: 60_000 }).catch(async (e) => {
    throw new Error('upload did not finish: ' + (await page.getByTestId('upload-status').textContent()) + ' / parts ' + [...parts]);
  });
  assert.equal(dropped, 1, 'one part was cut off');
  assert.deepEqual([...parts].sort(), ['1', '2', '3']);
  assert.match(await page.getByTestId('status').textContent(), /Waiting for an editor/);
  const facts = await page.locator('.tech').textContent();
  assert.match(facts, /20\.0 MB/);
  await context.close();
});
