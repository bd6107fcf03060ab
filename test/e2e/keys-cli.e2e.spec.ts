import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { databaseTargets, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { StatusWatch } from './support/status-watch.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './support/test-secrets.js';
import { withKey, withToken } from './support/guarded.requests.js';

/** The package's own `keybridge` bin, booting the sample app's module as `npm run keys` does. */
const CLI = 'dist/lib/cli/keybridge.cli.js';
const SAMPLE_MODULE = ['--module', 'dist/sample-app/cli/keys.module.js'];
const run = promisify(execFile);
/** PostgreSQL when it is configured (the multi-instance setup), else a SQLite file shared by the processes. */
const DATABASE = databaseTargets().find((target) => target.name === 'postgres') ?? sqlite;

const keys = (databaseUrl: string, ...args: string[]) => cli('keys', databaseUrl, ...args);
/** `npm run subject-limits`: the same CLI, administering owners' limits. */
const subjectLimits = (databaseUrl: string, ...args: string[]) => cli('subject-limits', databaseUrl, ...args);

async function cli(
  group: 'keys' | 'subject-limits',
  databaseUrl: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, group, ...SAMPLE_MODULE, ...args], {
      // The CLI runs nine hours ahead of the app: stored instants must not depend on either's time zone.
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        KEYBRIDGE_PEPPER: TEST_PEPPER,
        KEYBRIDGE_SIGNING_KEY: TEST_SIGNING_KEY,
        NODE_OPTIONS: '',
        TZ: 'Asia/Tokyo',
      },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** `npm run keys`, the package's built CLI, against the same database as a running app. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))('keys CLI on %s', (_name, target) => {
  let databaseUrl: string;
  let running: RunningApp;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does).`);
    databaseUrl = await target.fresh();
    running = await startSampleApp('express', databaseUrl);
  });

  afterAll(() => running.close());

  it('lists and shows a key whose expiry column holds no date, as expired', async () => {
    const key = await running.keys.create({ name: 'corrupt', scopes: ['orders:read'] });
    const placeholder = target.name === 'postgres' ? '$1' : '?';
    await running.app
      .get<DataSource>(getDataSourceToken())
      .query(`UPDATE keybridge_api_keys SET expires_at = -9223372036854775808 WHERE id = ${placeholder}`, [
        key.id,
      ]);
    const listed = await keys(databaseUrl, 'list');
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((line) => line.startsWith(key.id));
    expect(row).toMatch(/\bexpired\b.*\binvalid\b/);
    const shown = await keys(databaseUrl, 'get', key.id, '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: key.id, status: 'expired', expiresAt: null });
  });

  it('creates a key that opens GET /orders and is refused on POST /orders, lists it, and revokes it', async () => {
    const created = await keys(databaseUrl, 'create', '--name', 'ci', '--scopes', 'orders:read', '--json');
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as {
      id: string;
      key: string;
      scopes: string[];
      expiresAt: string | null;
    };
    expect(key).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^key_/),
        key: expect.stringMatching(/^kb_live_/),
        scopes: ['orders:read'],
        expiresAt: null,
      }),
    );

    await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200);
    const refused = await request(running.url)
      .post('/orders')
      .set('X-API-Key', key.key)
      .send({ item: 'tea', quantity: 1 })
      .expect(403);
    expect(refused.body.code).toBe('insufficient_scope');

    const listed = await keys(databaseUrl, 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(key.id);
    expect(listed.stdout).toContain(key.key.slice(-4));
    expect(listed.stdout).not.toContain(key.key);

    const revoked = await keys(databaseUrl, 'revoke', key.id, '--reason', 'rotated out');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked ${key.id}`);
    // Another process revoked it: this app honours that once its verified-key cache entry expires (5 s).
    running.clock.now += 5_001;
    const res = await request(running.url).get('/orders').set('X-API-Key', key.key).expect(401);
    expect(res.body.code).toBe('invalid_api_key');
  });

  it('sets an expiry with --expires-in and prints the key once in human form', async () => {
    const created = await keys(
      databaseUrl,
      'create',
      '--name',
      'temp',
      '--scopes',
      'orders:read,orders:write',
      '--expires-in',
      '30d',
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/kb_live_[0-9A-Za-z]{49}/);
    expect(created.stdout).toContain('only time the key is shown');
    const json = await keys(databaseUrl, 'list', '--json');
    const listed = JSON.parse(json.stdout) as { name: string; expiresAt: string; scopes: string[] }[];
    const temp = listed.find((k) => k.name === 'temp')!;
    expect(temp.scopes).toEqual(['orders:read', 'orders:write']);
    const days = (Date.parse(temp.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    const seenByApp = (await running.keys.list()).find((k) => k.name === 'temp')!;
    expect(Math.abs(seenByApp.expiresAt!.getTime() - Date.parse(temp.expiresAt))).toBeLessThan(1000);
    expect(json.stdout).not.toMatch(/kb_live_[0-9A-Za-z]{49}/);
  });

  it('sets several named rate limits with --rate-limit repeated, and one again with a single one', async () => {
    const created = await keys(
      databaseUrl,
      'create',
      '--name',
      'limited by cli',
      '--scopes',
      'orders:read',
      '--rate-limit',
      'burst=10/1s',
      '--rate-limit',
      'sustained=1000/1h:smooth',
      '--json',
    );
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    expect((await running.keys.get(id)).rateLimits).toEqual({
      burst: { limit: 10, windowSeconds: 1 },
      sustained: { limit: 1000, windowSeconds: 3600, policy: 'smooth' },
    });
    const shown = await keys(databaseUrl, 'get', id);
    expect(shown.stdout).toMatch(/rate limit\s+burst=10\/1s sustained=1000\/3600s:smooth/);
    expect((await keys(databaseUrl, 'update', id, '--rate-limit', '600/1m')).code).toBe(0);
    expect(await running.keys.get(id)).toMatchObject({
      rateLimit: { limit: 600, windowSeconds: 60 },
      rateLimits: null,
    });
    const bad = await keys(databaseUrl, 'update', id, '--rate-limit', 'burst=ten/1s');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rate-limit must be \[name=\]<count>\/<duration>/);
  });

  it('lists when each key was last used, as written by the running app', async () => {
    const used = await running.keys.create({ name: 'used', scopes: ['orders:read'] });
    const idle = await running.keys.create({ name: 'idle', scopes: ['orders:read'] });
    await request(running.url).get('/orders').set('X-API-Key', used.key).expect(200);
    await running.keys.flushUsage();

    const listed = await keys(databaseUrl, 'list');
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trim().split('\n');
    expect(header).toMatch(/LAST USED$/);
    const rowOf = (id: string) => rows.find((row) => row.startsWith(id))!;
    const lastUse = rowOf(used.id).split(/\s+/).at(-1)!;
    expect(lastUse).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Math.abs(Date.parse(lastUse) - running.clock.now)).toBeLessThan(60_000);
    expect(rowOf(idle.id).split(/\s+/).at(-1)).toBe('never');
  });

  it('rotates with --grace 0, printing the new key once, and disables and enables', async () => {
    const key = await running.keys.create({ name: 'cli', scopes: ['orders:read'] });
    const rotation = await keys(databaseUrl, 'rotate', key.id, '--grace', '0', '--json');
    expect(rotation.code).toBe(0);
    const rotated = JSON.parse(rotation.stdout) as { id: string; key: string; rotatedFromId: string };
    expect(rotated).toMatchObject({ rotatedFromId: key.id });
    running.clock.now += 10_000; // past the key cache ttl
    await withKey(running, key).expect(401);
    await withKey(running, rotated).expect(200);
    expect((await keys(databaseUrl, 'disable', rotated.id)).stdout).toContain(`Disabled ${rotated.id}`);
    running.clock.now += 10_000;
    await withKey(running, rotated).expect(401);
    expect((await keys(databaseUrl, 'enable', rotated.id)).stdout).toContain(`Enabled ${rotated.id}`);
    running.clock.now += 10_000;
    await withKey(running, rotated).expect(200);
  });

  it('registers a public key from a file and requires proof with --require-proof, never printing the file', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(join(tmpdir(), 'keybridge-cli-'));
    const pemFile = join(dir, 'client.pub.pem');
    writeFileSync(pemFile, publicKey.export({ format: 'pem', type: 'spki' }) as string);
    const created = await keys(
      databaseUrl,
      'create',
      '--name',
      'agent',
      '--scopes',
      'orders:read',
      '--public-key',
      pemFile,
      '--json',
    );
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as CreatedApiKey;
    await withKey(running, { key }).expect(200);
    const updated = await keys(databaseUrl, 'update', id, '--require-proof', '--json');
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      publicKey: { kty: 'EC', crv: 'P-256' },
      requireProof: true,
    });
    // The running app reads the same row (its cache aside): the flag is stored, not only printed.
    expect(await running.keys.get(id)).toMatchObject({ requireProof: true, publicKey: { kty: 'EC' } });
    const shown = await keys(databaseUrl, 'get', id);
    expect(shown.stdout).toMatch(/public key +P-256\n/);
    expect(shown.stdout).toMatch(/require proof +yes\n/);
    const back = await keys(databaseUrl, 'update', id, '--no-require-proof', '--json');
    expect(JSON.parse(back.stdout)).toMatchObject({ requireProof: false });

    const privateFile = join(dir, 'client.key.pem');
    const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    writeFileSync(privateFile, privatePem);
    const refused = await keys(databaseUrl, 'update', id, '--public-key', privateFile);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('invalid_argument');
    const missing = await keys(databaseUrl, 'update', id, '--public-key', join(dir, 'absent.pem'));
    expect(missing.code).toBe(2);
    const both = await keys(databaseUrl, 'update', id, '--require-proof', '--no-require-proof');
    expect(both.code).toBe(2);
    for (const output of [created, updated, refused, missing, both]) {
      expect(`${output.stdout}${output.stderr}`).not.toContain(privatePem.split('\n')[1]);
      expect(output.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("sets and reads an owner's limits with subject-limits, which the running app enforces on all of its keys", async () => {
    const subject = `cli-owner-${Date.now()}`;
    const first = await running.keys.create({ name: 'owner 1', subject, scopes: ['orders:read'] });
    const second = await running.keys.create({ name: 'owner 2', subject, scopes: ['orders:read'] });
    const set = await subjectLimits(
      databaseUrl,
      'set',
      subject,
      '--rate-limit',
      '100/1m',
      '--quota',
      '3/30d',
      '--json',
    );
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(set.stdout)).toMatchObject({
      subject,
      rateLimit: { limit: 100, windowSeconds: 60 },
      remaining: 3,
      quotaRefill: { amount: 3, intervalSeconds: 30 * 86_400 },
    });
    await withKey(running, first).expect(200);
    await withKey(running, second).expect(200);
    await withKey(running, first).expect(200);
    const refused = await withKey(running, second).expect(429);
    expect(refused.body).toMatchObject({ code: 'quota_exhausted', scope: 'owner' });

    const shown = await subjectLimits(databaseUrl, 'get', subject);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/rate limit\s+100\/60s/);
    expect(shown.stdout).toMatch(/remaining\s+0\b/);

    expect(await subjectLimits(databaseUrl, 'set', subject)).toMatchObject({ code: 2 });
    const bad = await subjectLimits(databaseUrl, 'set', subject, '--quota', '5/forever');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error \(invalid_argument\): quotaRefill must be/);
    expect(bad.stderr).not.toMatch(/\bat \S+:\d+/);
  });

  it('explains bad usage and unknown ids without a stack trace', async () => {
    const noName = await keys(databaseUrl, 'create', '--scopes', 'orders:read');
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('create needs --name');
    const unknown = await keys(databaseUrl, 'frobnicate');
    expect(unknown.code).toBe(2);
    const missing = await keys(databaseUrl, 'revoke', 'key_doesnotexist');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('key_not_found');
    const badScope = await keys(databaseUrl, 'create', '--name', 'x', '--scopes', 'not a scope');
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain('invalid_argument');
    for (const output of [noName, unknown, missing, badScope]) expect(output.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * A key revoked by the CLI, a process of its own, is honoured by a running app through the database denylist
 * within the bound the README states ("Revocation across processes"). The app runs on the real clock
 * (`clock: Date.now`) so that its time and the CLI's agree.
 */
describe(`a key revoked by the CLI, seen by a running app (${DATABASE.name})`, () => {
  /** README: the poll interval (1 s) plus one query; 1 s of slack for the query. */
  const DATABASE_BOUND_MS = 1000 + 1000;
  let databaseUrl: string;
  let a: RunningApp;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does).`);
    databaseUrl = await DATABASE.fresh();
    a = await startSampleApp('express', databaseUrl, { clock: Date.now, denylistPollInterval: '1s' });
  });

  afterAll(() => a?.close());

  const withKey = (app: RunningApp, key: CreatedApiKey) =>
    request(app.url).get('/orders').set('X-API-Key', key.key);

  /** When the entry was written: `created_at` is the writer's clock, the same machine's as ours. */
  async function writtenAt(id: string): Promise<number> {
    const dataSource = a.app.get<DataSource>(getDataSourceToken());
    const rows = (await dataSource.query(
      `SELECT created_at FROM keybridge_denylist WHERE id = ${DATABASE.name === 'postgres' ? '$1' : '?'}`,
      [id],
    )) as { created_at: string | number }[];
    expect(rows).toHaveLength(1);
    return Number(rows[0].created_at);
  }

  it('honours a key revoked by the CLI within the poll interval plus 1 s, for its tokens and the key itself', async () => {
    const key = await a.keys.create({ name: 'revoked by the CLI', scopes: ['orders:read'] });
    const token = await mintToken(a.url, key);
    await withToken(a, token).expect(200);
    // Cached on A for 5 s: a refusal sooner than that comes from the denylist.
    await withKey(a, key).expect(200);
    const from = a.events.length;

    const tokenWatch = new StatusWatch(() => withToken(a, token), 401, 200, 50);
    const keyWatch = new StatusWatch(() => withKey(a, key), 401, 200, 50);
    const cliStarted = Date.now();
    const { code, stderr } = await keys(databaseUrl, 'revoke', key.id);
    const cliExited = Date.now();
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    await Promise.all([tokenWatch.stopAfter(5000), keyWatch.stopAfter(5000)]);
    const written = await writtenAt(`key:${key.id}`);

    console.log(
      `database denylist (${DATABASE.name}), CLI revoke: the CLI ran ${cliExited - cliStarted} ms; ` +
        `A refused the token ${tokenWatch.seenAt! - cliExited} ms and the key ${keyWatch.seenAt! - cliExited} ms ` +
        `after the CLI exited, ${tokenWatch.seenAt! - written} ms and ${keyWatch.seenAt! - written} ms after ` +
        `the row was written (bound ${DATABASE_BOUND_MS} ms)`,
    );
    expect(tokenWatch.seenAt).toBeDefined();
    expect(keyWatch.seenAt).toBeDefined();
    expect(tokenWatch.seenAt! - cliExited).toBeLessThan(DATABASE_BOUND_MS);
    expect(keyWatch.seenAt! - cliExited).toBeLessThan(DATABASE_BOUND_MS);
    expect(tokenWatch.seenAt! - written).toBeLessThan(DATABASE_BOUND_MS);
    expect(keyWatch.seenAt! - written).toBeLessThan(DATABASE_BOUND_MS);
    expect([...tokenWatch.unexpected, ...keyWatch.unexpected]).toEqual([]);
    expect(a.events.slice(from)).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_revoked', keyId: key.id }),
    );
  }, 60_000);
});
