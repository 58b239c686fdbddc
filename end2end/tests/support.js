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
const serverBin = process.env.AMBISONIA_SERVER_BIN ?? join(targetDir, 'debug', 'server');

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

async function waitFor(url, deadlineMs) {
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
export async function startSite({ publicURL, s3 = false, directFromMb } = {}) {
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
  execFileSync(serverBin, ['demo-data'], { env, stdio: 'ignore' });
  const child = spawn(serverBin, [], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(`${baseURL}/readyz`, 20_000);
  return {
    baseURL,
    address: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
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
