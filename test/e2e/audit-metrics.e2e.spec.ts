import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateKey } from 'nestjs-keybridge';
import request from 'supertest';
import { ADAPTERS, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';
import { freePort } from './support/app-starter.js';

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

/**
 * The sample app's MCP server, driven by the SDK's client with a key: its orders tools backed by the orders
 * service and table, each within the key's scopes. (It shares this suite's file: sample-app suites are few.)
 */
describe.each(ADAPTERS)('MCP server of the sample app (%s)', (adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    const port = await freePort();
    running = await startSampleApp(adapter, await sqlite.fresh(), {}, { port });
  });

  afterAll(() => running.close());

  async function connect(scopes: string[]): Promise<Client> {
    const key = await running.keys.create({ name: 'agent', scopes, subject: `agent-${scopes.length}` });
    const client = new Client({ name: 'orders-agent', version: '1.0.0' });
    const authProvider = new ClientCredentialsProvider({
      clientId: key.id,
      clientSecret: key.key,
      expectedIssuer: running.issuer,
    });
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', running.url), { authProvider }));
    return client;
  }

  it('places and lists orders through the tools, and refuses a tool the key has no scope for', async () => {
    const writer = await connect(['orders:read', 'orders:write']);
    const placed = (await writer.callTool({
      name: 'create_order',
      arguments: { item: ' widget ', quantity: 2 },
    })) as { content: { text: string }[]; isError?: boolean };
    expect(placed.isError).toBeFalsy();
    const listed = (await writer.callTool({ name: 'list_orders', arguments: {} })) as {
      content: { text: string }[];
    };
    expect(JSON.parse(listed.content[0].text)).toEqual([
      expect.objectContaining({ item: 'widget', quantity: 2, placedBy: 'agent-2' }),
    ]);
    const invalid = (await writer.callTool({
      name: 'create_order',
      arguments: { item: 'widget', quantity: 0 },
    })) as { isError?: boolean };
    expect(invalid.isError).toBe(true);

    const reader = await connect(['orders:read']);
    await expect(
      reader.callTool({ name: 'create_order', arguments: { item: 'widget', quantity: 1 } }),
    ).rejects.toThrow(/\b403\b/);
    await writer.close();
    await reader.close();
  });
});
