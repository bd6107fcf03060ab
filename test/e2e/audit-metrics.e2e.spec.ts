import { generateKey } from 'nestjs-keybridge';
import request from 'supertest';
import { ADAPTERS, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';

/** The sample app counts every audit event for Prometheus, by type and reason, with no key id or address. */
describe.each(ADAPTERS)('audit metrics of the sample app (%s)', (adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startSampleApp(adapter, await sqlite.fresh());
  });

  afterAll(() => running.close());

  const scrape = async () => {
    const res = await request(running.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    return res.text;
  };
  const count = (text: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`keybridge_events_total{${labels}}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  it('counts refusals by reason, issued tokens and key events, and the events still reach the app', async () => {
    const before = await scrape();
    const key = await running.keys.create({ name: 'metered', scopes: ['orders:read'] });
    await request(running.url).get('/orders').set('X-API-Key', generateKey('kb_live_')).expect(401);
    await request(running.url).get('/orders').expect(401);
    await mintToken(running.url, key);
    const after = await scrape();
    expect(count(after, 'type="auth.failed",reason="unknown"')).toBe(
      count(before, 'type="auth.failed",reason="unknown"') + 1,
    );
    expect(count(after, 'type="auth.failed",reason="missing_credentials"')).toBe(
      count(before, 'type="auth.failed",reason="missing_credentials"') + 1,
    );
    expect(count(after, 'type="token.issued",reason=""')).toBe(
      count(before, 'type="token.issued",reason=""') + 1,
    );
    expect(count(after, 'type="key.created",reason=""')).toBe(
      count(before, 'type="key.created",reason=""') + 1,
    );
    expect(after).not.toContain(key.id);
    expect(running.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['token.issued', 'auth.failed']),
    );
  });
});
