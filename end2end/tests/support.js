// Shared set-up for the browser tests: a fresh site on a free port (SQLite in a temporary
// folder, filled by `server demo-data`), and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(root, 'target');
export const serverBin = process.env.AMBISONIA_SERVER_BIN ?? join(targetDir, 'debug', 'server');
/** The stand-in for Stripe's API (the `stripe-standin` crate), for payments. */
export const standinBin = join(targetDir, 'debug', 'stripe-standin');

export const DEMO_PASSWORD = 'listen-in-the-round';
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };
export const SCREENSHOTS = join(root, 'end2end', 'screenshots');

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}

export async function waitFor(url, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${deadlineMs} ms`);
}

/**
 * Starts a site with demo data; returns { baseURL, address, stop }. `publicURL` is the
 * address visitors use when something (the balancer) stands in front of it.
 */
export async function startSite({ publicURL, s3 = false, directFromMb, stripe = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ambisonia-e2e-'));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/site.db`,
    AMBISONIA_MEDIA_DIR: join(dir, 'media'),
    AMBISONIA_LISTEN: `127.0.0.1:${port}`,
    AMBISONIA_PUBLIC_URL: publicURL ?? baseURL,
    RUST_LOG: 'warn',
    // Nothing balances these sites: no need to drain before stopping.
    AMBISONIA_DRAIN_S: '0',
    // Map tiles from nowhere (nothing leaves this machine): the markers show over the
    // plain background, as they do when a visitor's tiles are blocked.
    AMBISONIA_MAP_TILES: 'http://127.0.0.1:9/{z}/{x}/{y}.png',
  };
  if (s3) {
    // Media in a fresh bucket on the test S3 server (moto, started by scripts/test).
    Object.assign(env, {
      AMBISONIA_S3_BUCKET: `e2e-${Math.random().toString(16).slice(2, 10)}`,
      AMBISONIA_S3_ENDPOINT: process.env.TEST_S3_URL ?? 'http://127.0.0.1:5055',
      AMBISONIA_S3_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
    });
    execFileSync(serverBin, ['media', 'prepare-bucket', '--cors-origin', publicURL ?? baseURL], { env, stdio: 'ignore' });
  }
  if (directFromMb !== undefined) env.AMBISONIA_DIRECT_UPLOAD_FROM_MB = String(directFromMb);
  let standin;
  if (stripe) {
    // Payments on, with the stand-in as Stripe: it serves the checkout and portal pages and
    // posts signed events to the site's webhook.
    const stripePort = await freePort();
    Object.assign(env, {
      STRIPE_SECRET_KEY: 'sk_test_e2e',
      STRIPE_WEBHOOK_SECRET: 'whsec_e2e',
      AMBISONIA_STRIPE_API_BASE: `http://127.0.0.1:${stripePort}`,
      STRIPE_PRICE_MONTHLY: 'price_monthly',
      STRIPE_PRICE_QUARTERLY: 'price_quarterly',
      STRIPE_PRICE_YEARLY: 'price_yearly',
    });
    standin = spawn(standinBin, ['--port', String(stripePort), '--webhook-url', `${baseURL}/stripe/webhook`], {
      env, stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  execFileSync(serverBin, ['demo-data'], { env, stdio: 'ignore' });
  const child = spawn(serverBin, [], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(`${baseURL}/readyz`, 20_000);
  return {
    baseURL,
    address: `127.0.0.1:${port}`,
    /** Runs a `server` subcommand against this site's database and media; its output. */
    cli(args) {
      return execFileSync(serverBin, args, { env, encoding: 'utf8' });
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      if (standin) {
        standin.kill('SIGINT');
        await new Promise((r) => standin.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A free port on 127.0.0.1, to give the balancer before the app behind it starts. */
export { freePort };

/** Starts `server --role balancer` on `port` in front of `upstreams` ("host:port" each). */
export async function startBalancer(port, upstreams) {
  const baseURL = `http://127.0.0.1:${port}`;
  const admin = await freePort();
  const args = ['--role', 'balancer', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`];
  for (const u of upstreams) args.push('--upstream', u);
  const child = spawn(serverBin, args, {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(`${baseURL}/readyz`, 20_000);
  return {
    baseURL,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export async function launchBrowser() {
  // Playwright gives every non-persistent launch a fresh, empty profile of its own.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/**
 * A FuMa B-format file (.amb): 4 channels, 24-bit, 48 kHz, a plane wave from `azimuthDeg`
 * (anticlockwise from the front) carrying `signal(i, rate)` (by default a 440 Hz tone).
 */
export function fumaFile(seconds, { azimuthDeg = 45, signal = (i, rate) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate) } = {}) {
  const rate = 48000, channels = 4, bytes = 3, frames = Math.round(rate * seconds);
  const dataLen = frames * channels * bytes;
  const buf = Buffer.alloc(12 + 8 + 40 + 8 + dataLen);
  let o = 0;
  const str = (s) => { buf.write(s, o, 'ascii'); o += s.length; };
  const u16 = (v) => { buf.writeUInt16LE(v, o); o += 2; };
  const u32 = (v) => { buf.writeUInt32LE(v, o); o += 4; };
  str('RIFF'); u32(buf.length - 8); str('WAVE');
  str('fmt '); u32(40); u16(0xfffe); u16(channels); u32(rate); u32(rate * channels * bytes);
  u16(channels * bytes); u16(24); u16(22); u16(24); u32(0);
  Buffer.from([1, 0, 0, 0, 0x21, 0x07, 0xd3, 0x11, 0x86, 0x44, 0xc8, 0xc1, 0xca, 0, 0, 0]).copy(buf, o); o += 16;
  str('data'); u32(dataLen);
  const az = (azimuthDeg * Math.PI) / 180;
  for (let i = 0; i < frames; i++) {
    const s = signal(i, rate);
    for (const v of [s * Math.SQRT1_2, s * Math.cos(az), s * Math.sin(az), 0]) {
      buf.writeIntLE(Math.round(v * 8388607), o, 3); o += 3;
    }
  }
  return buf;
}

/** Logs `username` in (demo password) in `context`; the page, at the home page. */
export async function logIn(context, baseURL, username) {
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${baseURL}/`);
  return page;
}
