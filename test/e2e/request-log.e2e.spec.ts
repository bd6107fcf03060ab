import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { ADAPTERS, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { rawRequest } from './support/raw-http.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';

interface LogLine {
  method: string;
  url: string;
  status: number;
  headers: Record<string, unknown>;
}

/** The sample app logs every request with its headers, and never a key or a token. */
describe.each(ADAPTERS)('request log of the sample app (%s)', (adapter) => {
  let running: RunningApp;
  const lines: string[] = [];

  beforeAll(async () => {
    running = await startSampleApp(
      adapter,
      await sqlite.fresh(),
      {},
      { requestLog: (line) => lines.push(line) },
    );
  });

  afterAll(() => running.close());

  const settle = () => sleep(50);

  it('logs method, URL, status and headers with X-API-Key and Authorization redacted', async () => {
    const key = await running.keys.create({ name: 'logged', scopes: ['orders:read'] });
    const token = await mintToken(running.url, key);
    lines.length = 0;
    await request(running.url).get('/orders').set('X-API-Key', key.key).set('X-Request-Id', 'r1').expect(200);
    await request(running.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(200);
    await request(running.url).get(`/orders?api_key=${key.key}&page=2`).expect(400);
    await settle();
    expect(lines).toHaveLength(3);
    const [byKey, byToken, inQuery] = lines.map((line) => JSON.parse(line) as LogLine);
    expect(byKey).toMatchObject({ method: 'GET', url: '/orders', status: 200 });
    expect(byKey.headers['x-api-key']).toBe('[redacted]');
    expect(byKey.headers['x-request-id']).toBe('r1');
    expect(byToken.headers.authorization).toBe('[redacted]');
    expect(inQuery).toMatchObject({ status: 400, url: '/orders?api_key=%5Bredacted%5D&page=2' });
    for (const line of lines) {
      expect(line).not.toContain(key.key);
      expect(line).not.toContain(token);
    }
  });

  it('redacts the credentials of the token endpoint too', async () => {
    const key = await running.keys.create({ name: 'minting', scopes: ['orders:read'] });
    lines.length = 0;
    await mintToken(running.url, key);
    await settle();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).headers.authorization).toBe('[redacted]');
    expect(lines[0]).not.toContain(key.key);
  });

  it('redacts a key or a token wherever it sits in the URL: path, parameter names and values, fragment', async () => {
    const key = await running.keys.create({ name: 'pasted', scopes: ['orders:read'] });
    const token = await mintToken(running.url, key);
    const encoded = key.key.replace(/_/g, '%5F');
    const urls = [
      `/orders/${key.key}`,
      `/orders?x-api-key=${key.key}`,
      `/orders?${key.key}=1`,
      `/orders?q=${token}`,
      `/orders/${token}/items`,
      `/orders?note=${encoded}`,
      `/orders;${key.key.slice(0, 20)}`,
      `/orders?page=2#${key.key}`,
    ];
    lines.length = 0;
    for (const url of urls) await rawRequest(running.port, `GET ${url} HTTP/1.1\r\nHost: x`);
    await settle();
    expect(lines).toHaveLength(urls.length);
    const body = key.key.slice(8, 40);
    for (const line of lines) {
      const { url } = JSON.parse(line) as LogLine;
      expect(url).toContain('[redacted]');
      for (const secret of [key.key, encoded, token, token.split('.')[1], body])
        expect(line).not.toContain(secret);
    }
    expect(lines.map((line) => (JSON.parse(line) as LogLine).url)).toEqual(
      expect.arrayContaining([
        '/orders/[redacted]',
        '/orders?x-api-key=[redacted]',
        '/orders?page=2#[redacted]',
      ]),
    );
  });
});
