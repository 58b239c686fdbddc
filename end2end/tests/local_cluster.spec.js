// deploy/README.md, "One machine", exactly as written: `deploy/local-cluster up 3` starts
// PostgreSQL (primary + streaming replica), Redis, moto's S3, three app replicas and two
// balancers on the bus. A listener logs in and comments through balancer 1; an anonymous
// visitor sees the comment through balancer 2 (its cached page purged over the bus).
// `deploy/local-cluster rolling-restart` restarts every replica under load — logged-in
// page views through both balancers and comment posts — and no request fails.
// `deploy/local-cluster backup` then `deploy/restore-drill` (deploy/README.md, "Restoring"):
// the backup restores into a working site with every row and every object of the bucket,
// and once an object is deleted from the bucket the drill names it and fails. `down`
// leaves nothing listening.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { launchBrowser, logIn } from './support.js';

const root = resolve(import.meta.dirname, '..', '..');
const cluster = (...args) =>
  promisify(execFile)(resolve(root, 'deploy', 'local-cluster'), args, { cwd: root, maxBuffer: 1 << 24 });
const FRONT1 = 'http://127.0.0.1:7481';
const FRONT2 = 'http://127.0.0.1:7482';
const PORTS = [7400, 7401, 7402, 7403, 7411, 7412, 7413, 7451, 7452, 7453, 7481, 7482, 7491, 7492];
const run = (...args) => promisify(execFile)(args[0], args.slice(1), { cwd: root, maxBuffer: 1 << 24 });
let chrome;
let up = false;

const listening = (port) =>
  new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); ok(true); });
    s.once('error', () => ok(false));
  });

before(async () => {
  const { stdout } = await cluster('up', '3');
  up = true;
  assert.match(stdout, /site \(balancer 1\)\s+http:\/\/127\.0\.0\.1:7481/);
  assert.match(stdout, /app replica 3\s+http:\/\/127\.0\.0\.1:7413\s+\(ready\)/);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  if (up) await cluster('down');
});

test('a comment through balancer 1 is on the page through balancer 2', async () => {
  const anonymous = async () => (await fetch(`${FRONT2}/recordings/dawn-chorus`)).text();
  await anonymous();
  const cached = await fetch(`${FRONT2}/recordings/dawn-chorus`);
  assert.equal(cached.headers.get('x-cache'), 'HIT', 'balancer 2 keeps the page');

  const context = await chrome.browser.newContext({ baseURL: FRONT1 });
  const page = await logIn(context, FRONT1, 'marta');
  await page.goto('/recordings/dawn-chorus');
  const text = 'Heard through balancer 1, read through balancer 2.';
  await page.getByLabel('Your comment').fill(text);
  await page.getByRole('button', { name: 'Post comment' }).click();
  await page.waitForURL(/\/recordings\/dawn-chorus#comments$/);
  assert.ok((await page.content()).includes(text), 'the writer sees it at once');
  const until = Date.now() + 5000;
  while (!(await anonymous()).includes(text)) {
    assert.ok(Date.now() < until, 'the comment never showed through balancer 2');
    await new Promise((r) => setTimeout(r, 20));
  }
  await context.close();
});

test('a rolling restart of every replica under load fails no request', async () => {
  const context = await chrome.browser.newContext({ baseURL: FRONT1 });
  const page = await logIn(context, FRONT1, 'marta');
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  let stop = false;
  const failures = [];
  let requests = 0;
  // Logged-in views bypass the balancers' caches: every one reaches a replica.
  const viewer = async (front) => {
    while (!stop) {
      for (const path of ['/recordings/dawn-chorus', '/account', '/catalog?q=forest']) {
        requests++;
        try {
          const res = await fetch(front + path, { headers: { cookie }, redirect: 'manual' });
          await res.arrayBuffer();
          if (res.status !== 200) failures.push(`${front}${path}: ${res.status}`);
        } catch (e) {
          failures.push(`${front}${path}: ${e.cause?.code ?? e.message}`);
        }
      }
    }
  };
  // And comments, posted by the browser's form.
  let posted = 0;
  const commenter = async () => {
    while (!stop) {
      requests++;
      try {
        await page.goto('/recordings/dawn-chorus');
        const text = `During the rolling restart, comment ${posted + 1}.`;
        await page.getByLabel('Your comment').fill(text);
        await page.getByRole('button', { name: 'Post comment' }).click();
        await page.waitForURL(/\/recordings\/dawn-chorus#comments$/);
        if (!(await page.content()).includes(text)) failures.push(`comment ${posted + 1} not shown`);
        posted++;
      } catch (e) {
        failures.push(`comment: ${e.message}`);
      }
    }
  };
  const load = [viewer(FRONT1), viewer(FRONT2), commenter()];
  const { stdout } = await cluster('rolling-restart');
  stop = true;
  await Promise.all(load);
  await context.close();
  console.log(`rolling restart of 3 replicas: ${requests} requests (${posted} comments), ${failures.length} failed`);
  assert.match(stdout, /all 3 replica\(s\) restarted/);
  assert.ok(posted > 0 && requests > 100, `too little load: ${requests}`);
  assert.deepEqual(failures, []);
});

test('a backup restores into a working site; a deleted object is named', async () => {
  const { stdout: made } = await cluster('backup');
  assert.match(made, /local-cluster: backup \S+\.dump \(.*, \d+ tables\)/);
  const drill = () => run(resolve(root, 'deploy', 'restore-drill'));
  const { stdout } = await drill();
  console.log(stdout);
  assert.match(stdout, /rows: all \d+ tables have every row/);
  assert.match(stdout, /page \/recordings\/\S+: 200/);
  assert.match(stdout, /media: \d+ recordings name (\d+) objects .*: \1 present \(\d+ originals match their SHA-256\), 0 missing/);
  assert.match(stdout, /recovery point: the backup, \d+ s old; recovery time: [\d.]+ s/);
  assert.match(stdout, /every row and object present/);

  // One original gone from the bucket (deleted with boto3, which moto brings).
  const { stdout: found } = await run('psql', '-tAq', 'postgres://postgres@127.0.0.1:7400/ambisonia', '-c',
    "SELECT slug || ' ' || media_key FROM recordings WHERE media_key IS NOT NULL ORDER BY id LIMIT 1");
  const [slug, key] = found.trim().split(' ');
  await run('python3', '-c', `import boto3, sys
boto3.client('s3', endpoint_url='http://127.0.0.1:7403', region_name='us-east-1',
  aws_access_key_id='local', aws_secret_access_key='local-secret').delete_object(Bucket='ambisonia', Key=sys.argv[1])`, key);
  const failed = await drill().then(() => null, (e) => e);
  assert.ok(failed, 'the drill fails');
  assert.match(failed.stdout, new RegExp(`MISSING  ${slug} ${key.replace(/[.]/g, '\\.')}`));
  assert.match(failed.stdout, /, 1 missing or changed/);
  assert.match(failed.stdout, /restore-drill: FAILED/);
});

test('down stops everything', async () => {
  await cluster('down');
  up = false;
  for (const port of PORTS) assert.equal(await listening(port), false, `port ${port} still listens`);
});
