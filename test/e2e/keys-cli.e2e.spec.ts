import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import request from 'supertest';
import { databaseTargets } from './support/databases.js';
import { startSampleApp, TEST_PEPPER, TEST_SIGNING_KEY, type RunningApp } from './support/sample-app.js';

const CLI = 'dist/sample-app/cli/keys.cli.js';
const run = promisify(execFile);

async function keys(
  databaseUrl: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
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

/** `npm run keys`, the built CLI, against the same database as a running app. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))('keys CLI on %s', (_name, target) => {
  let databaseUrl: string;
  let running: RunningApp;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does).`);
    databaseUrl = await target.fresh();
    running = await startSampleApp('express', databaseUrl);
  });

  afterAll(() => running.close());

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
