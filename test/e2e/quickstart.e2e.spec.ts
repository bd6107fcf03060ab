import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';

/**
 * The README's "Use it in your app", as a team would follow it: the package packed into a tarball, a fresh
 * NestJS 12 ES-module app in a temporary folder, the README's code blocks copied into it verbatim (found by
 * their `<!-- quickstart: … -->` markers), strict TypeScript, no environment variable set. It must compile,
 * boot, accept a key made by the shipped `keybridge` CLI, keep its usage counts across a SIGTERM, and refuse
 * to boot in production naming what to set.
 */
const ROOT = resolve('.');
const run = promisify(execFile);
const project = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

/** The fenced block after `<!-- quickstart: name -->` in the README, exactly as written there. */
function quickstartBlock(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = `<!-- quickstart: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no "${marker}" block`);
  const block = /^\s*```\w*\n([\s\S]*?)\n```/.exec(readme.slice(at + marker.length));
  if (!block) throw new Error(`No fenced code block follows "${marker}" in README.md`);
  return `${block[1]}\n`;
}

/** The process environment without npm's, Jest's or the project's settings: a shell in a fresh app. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|NODE_OPTIONS$|NODE_ENV$|JEST_|KEYBRIDGE_|DATABASE_|REDIS_|PORT$|TEST_)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** Runs a command in the app folder; resolves with its output whatever its exit code. */
async function sh(
  app: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: app, env, timeout: 240_000, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout,
      stderr: failed.stderr,
    };
  }
}

async function mustRun(app: string, file: string, args: string[]): Promise<string> {
  const result = await sh(app, file, args);
  if (result.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe('the README quickstart in a fresh app, with the packed package', () => {
  let dir: string;
  let app: string;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let url: string;
  let files: string[];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/lib/cli/keybridge.cli.js'))) {
      throw new Error('dist/ is missing: run "npm run build" first (npm test does).');
    }
    dir = mkdtempSync(join(tmpdir(), 'keybridge-quickstart-'));
    app = join(dir, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });

    // dist/ was just built by `npm test`; prepack would build it a second time.
    const packed = JSON.parse(
      await mustRun(ROOT, 'npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir]),
    ) as { filename: string; files: { path: string }[] }[];
    files = packed[0].files.map((f) => f.path);
    const tarball = join(dir, packed[0].filename);

    const { keybridge } = JSON.parse(quickstartBlock('package.json keybridge')) as { keybridge: unknown };
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'quickstart-app', private: true, type: 'module', keybridge }, null, 2),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          rootDir: 'src',
          outDir: 'dist',
        },
        include: ['src'],
      }),
    );
    for (const file of ['src/app.module.ts', 'src/main.ts'])
      writeFileSync(join(app, file), quickstartBlock(file));

    // What `nest new` gives an app, at the versions this project is tested with; then the README's own line.
    const base = ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'];
    const dev = ['typescript', '@types/node'];
    const versioned = (names: string[]) => names.map((n) => `${n}@${project.devDependencies[n]}`);
    const readmeInstall = quickstartBlock('install').trim().split(/\s+/);
    expect(readmeInstall.slice(0, 2)).toEqual(['npm', 'install']);
    const packages = readmeInstall.slice(2).map((name) => (name === 'nestjs-keybridge' ? tarball : name));
    // Install scripts are skipped: the only one, better-sqlite3's, compiles SQLite for two minutes. The same
    // version built for this Node by the project's own install is reused; any other version is compiled.
    const install = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'];
    await mustRun(app, 'npm', [...install, ...versioned(base), ...packages]);
    await mustRun(app, 'npm', [...install, '--save-dev', ...versioned(dev)]);
    const sqlite = (root: string) => join(root, 'node_modules/better-sqlite3');
    const version = (root: string) =>
      (JSON.parse(readFileSync(join(sqlite(root), 'package.json'), 'utf8')) as { version: string }).version;
    const binary = 'build/Release/better_sqlite3.node';
    if (version(app) === version(ROOT) && existsSync(join(sqlite(ROOT), binary))) {
      mkdirSync(dirname(join(sqlite(app), binary)), { recursive: true });
      copyFileSync(join(sqlite(ROOT), binary), join(sqlite(app), binary));
    } else {
      await mustRun(app, 'npm', ['rebuild', 'better-sqlite3']);
    }
    await mustRun(app, 'npx', ['tsc']);
  }, 400_000);

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await new Promise((done) => server!.once('exit', done));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const keybridge = (...args: string[]) => sh(app, 'npx', ['keybridge', ...args]);

  async function start(): Promise<void> {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    serverOutput = '';
    server = spawn(process.execPath, ['dist/main.js'], { cwd: app, env: cleanEnv({ PORT: String(port) }) });
    server.stdout!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
    for (;;) {
      if (server.exitCode !== null) throw new Error(`The quickstart app exited at boot:\n${serverOutput}`);
      const up = await request(url)
        .get('/orders/status')
        .then((res) => res.status === 200)
        .catch(() => false);
      if (up) return;
      await sleep(200);
    }
  }

  it('packs the library and its CLI, and nothing of the sample app, tests or bench', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/lib/cli/keybridge.cli.js',
      ]),
    );
    expect(
      files.filter(
        (f) => !f.startsWith('dist/lib/') && !['package.json', 'README.md', 'LICENSE'].includes(f),
      ),
    ).toEqual([]);
    expect(files.filter((f) => /sample-app|^test\/|bench|\.map$|\.spec\./.test(f))).toEqual([]);
  });

  it('boots with no environment variable set, and opens its guarded route with a key made by the CLI', async () => {
    await start();
    expect(serverOutput).toMatch(/signing key|generated for this process/i);

    const created = await keybridge('keys', 'create', '--name', 'ci', '--scopes', 'orders:read', '--json');
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; scopes: string[] };
    expect(key).toMatchObject({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^kb_live_/),
    });
    expect(created.stderr).not.toContain(key.key);

    const listed = await request(url).get('/orders').set('X-API-Key', key.key).expect(200);
    expect(listed.body).toEqual({ owner: key.id, orders: [] });
    const missing = await request(url).get('/orders').expect(401);
    expect(missing.body.code).toBe('missing_credentials');
    const wrongScope = await request(url)
      .post('/orders')
      .set('X-API-Key', key.key)
      .send({ item: 'tea', quantity: 1 });
    expect(wrongScope.status).toBe(403);

    // Shutdown hooks: the usage counted since the last batch is written on SIGTERM, not lost.
    server!.kill('SIGTERM');
    // Nest closes the app, then raises the signal again so the process ends as the signal asked.
    const exit = await new Promise<string>((done) =>
      server!.once('exit', (code, signal) => done(signal ?? `code ${code}`)),
    );
    expect(['SIGTERM', 'code 0']).toContain(exit);
    const got = await keybridge('keys', 'get', key.id, '--json');
    expect(got.code).toBe(0);
    const used = JSON.parse(got.stdout) as { id: string; usageCount: number; lastUsedAt: string | null };
    expect(used.id).toBe(key.id);
    expect(used.usageCount).toBeGreaterThanOrEqual(1);
    expect(used.lastUsedAt).toEqual(expect.any(String));
    expect(got.stdout).not.toContain(key.key);

    const table = await keybridge('keys', 'list');
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS\s+SCOPES\s+HINT\s+EXPIRES\s+LAST USED$/);
    expect(table.stdout).toContain(key.id);
    const unknown = await keybridge('keys', 'revoke', 'key_doesnotexist');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('key_not_found');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('refuses to boot in production without its secrets, naming the variables to set', async () => {
    const booted = await sh(
      app,
      process.execPath,
      ['dist/main.js'],
      cleanEnv({ NODE_ENV: 'production', PORT: '0' }),
    );
    expect(booted.code).not.toBe(0);
    const output = booted.stdout + booted.stderr;
    expect(output).toContain('KEYBRIDGE_PEPPER');
    expect(output).toContain('KEYBRIDGE_SIGNING_KEY');
    expect(output).toContain('KEYBRIDGE_ISSUER');
  }, 60_000);
});
