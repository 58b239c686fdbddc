// README, "Behind the balancer", exactly as written: two replicas on 127.0.0.1:3001 and
// :3002 and the balancer on :8080, started with the README's arguments and nothing else
// (the replicas' public URL stays at its default, :3000), from a folder where the README's
// first command made the demo catalog. A visitor at http://127.0.0.1:8080 logs in and
// comments: forms work through the front door.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_PASSWORD, launchBrowser, serverBin, waitFor } from './support.js';

const FRONT = 'http://127.0.0.1:8080';
let dir;
let children = [];
let chrome;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ambisonia-readme-'));
  // Only what a shell on a fresh machine has: no AMBISONIA_* or DATABASE_URL settings.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, RUST_LOG: 'warn' };
  execFileSync(serverBin, ['demo-data'], { cwd: dir, env, stdio: 'ignore' });
  const run = (args) => {
    const child = spawn(serverBin, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
  };
  run(['--listen', '127.0.0.1:3001']);
  run(['--listen', '127.0.0.1:3002']);
  await waitFor('http://127.0.0.1:3001/readyz', 20_000);
  await waitFor('http://127.0.0.1:3002/readyz', 20_000);
  run(['--role', 'balancer', '--listen', '127.0.0.1:8080', '--upstream', '127.0.0.1:3001', '--upstream', '127.0.0.1:3002']);
  await waitFor(`${FRONT}/readyz`, 20_000);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await Promise.all(children.map((c) => {
    c.kill('SIGTERM');
    return new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)));
  }));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a visitor at the balancer logs in and comments', async () => {
  const context = await chrome.browser.newContext({ baseURL: FRONT });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('marta');
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${FRONT}/`);
  assert.equal(await page.getByTestId('account-link').textContent(), 'marta');

  await page.goto('/recordings/dawn-chorus');
  const before = await page.getByTestId('comment').count();
  await page.getByLabel('Your comment').fill('Posted through the front door, as the README runs it.');
  await page.getByRole('button', { name: 'Post comment' }).click();
  await page.waitForURL(/\/recordings\/dawn-chorus#comments$/);
  assert.equal(await page.getByTestId('comment').count(), before + 1);
  await context.close();
});
