import { generateKeyPairSync } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ClientCredentialsProvider,
  PrivateKeyJwtProvider,
} from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpAppModule } from './apps/mcp.module.js';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';
import { targetMatrix } from './support/databases.js';

interface ToolText {
  content: { type: string; text: string }[];
  isError?: boolean;
}

/**
 * An MCP server guarded by the library, driven by the SDK's own client over real HTTP: discovery from a bare
 * 401, a client-credentials token (the key, or a `private_key_jwt` assertion), tools refused outside the
 * key's scopes, and a revoked key stopping the client at once.
 */
describe.each(targetMatrix())('MCP server on %s', (_name, database, adapter) => {
  let running: RunningApp;
  let endpoint: URL;
  const clients: Client[] = [];

  beforeAll(async () => {
    running = await startApp(
      adapter,
      await database.fresh(),
      {},
      {
        app: McpAppModule.forRoot,
        port: await freePort(),
      },
    );
    endpoint = new URL('/mcp', running.url);
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await running.close();
  });

  async function connect(authProvider: OAuthClientProvider): Promise<Client> {
    const client = new Client({ name: 'orders-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider }));
    clients.push(client);
    return client;
  }

  async function keyWith(scopes: string[], publicKey?: Record<string, unknown>) {
    return running.keys.create({ name: 'agent', scopes, ...(publicKey ? { publicKey } : {}) });
  }

  function secretProvider(key: { id: string; key: string }): ClientCredentialsProvider {
    return new ClientCredentialsProvider({
      clientId: key.id,
      clientSecret: key.key,
      expectedIssuer: running.issuer,
    });
  }

  it('answers a bare request with a 401 that names the endpoint’s own resource metadata', async () => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer /);
    const metadataUrl = `${running.issuer}/.well-known/oauth-protected-resource/mcp`;
    expect(challenge).toContain(`resource_metadata="${metadataUrl}"`);
    const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    expect(metadata.resource).toBe(`${running.issuer}/mcp`);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['orders:read', 'orders:write']));
  });

  it('lets a client with a key discover the server, get a token, list the tools and call one', async () => {
    const key = await keyWith(['orders:read', 'orders:write']);
    const provider = secretProvider(key);
    const client = await connect(provider);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['create_order', 'list_orders']);

    const created = (await client.callTool({
      name: 'create_order',
      arguments: { item: 'widget', quantity: 3 },
    })) as ToolText;
    expect(created.isError).toBeFalsy();
    const listed = (await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText;
    expect(JSON.parse(listed.content[0].text)).toEqual([
      expect.objectContaining({ item: 'widget', quantity: 3, placedBy: key.id }),
    ]);
    // The client holds a token, not the key: the key went only to the token endpoint.
    expect(provider.tokens()?.access_token).toMatch(/^eyJ/);

    // Stateless: no stream to open with GET, no session to end with DELETE.
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(endpoint, {
        method,
        headers: { authorization: `Bearer ${provider.tokens()!.access_token}` },
      });
      expect([res.status, res.headers.get('allow')]).toEqual([405, 'POST']);
    }
  });

  it('refuses a tool outside the key’s scopes with a 403 step-up challenge the token endpoint cannot meet', async () => {
    const key = await keyWith(['orders:read']);
    const provider = secretProvider(key);
    const client = await connect(provider);
    expect(((await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText).isError).toBeFalsy();
    await expect(
      client.callTool({ name: 'create_order', arguments: { item: 'widget', quantity: 1 } }),
    ).rejects.toThrow(/\b403\b/);

    // What the server answered, seen without the SDK: 403 before dispatch, naming the scope and the resource.
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${provider.tokens()!.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'create_order', arguments: { item: 'widget', quantity: 1 } },
      }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(
      new RegExp(
        `^Bearer .*error="insufficient_scope".*resource_metadata="${running.issuer}/\\.well-known/oauth-protected-resource/mcp", scope="orders:write"`,
      ),
    );
    expect(await res.text()).not.toContain(provider.tokens()!.access_token);
  });

  it('stops a client as soon as its key is revoked', async () => {
    const key = await keyWith(['orders:read']);
    const provider = secretProvider(key);
    const client = await connect(provider);
    expect(((await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText).isError).toBeFalsy();
    const token = provider.tokens()!.access_token;

    await running.keys.revoke(key.id);
    await expect(client.callTool({ name: 'list_orders', arguments: {} })).rejects.toThrow(
      /authentication failed/i,
    );
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it.each([
    ['Ed25519', 'EdDSA', () => generateKeyPairSync('ed25519')],
    ['P-256', 'ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ] as const)('does the same with private_key_jwt and a registered %s key', async (_curve, alg, pair) => {
    const { publicKey, privateKey } = pair();
    const key = await keyWith(
      ['orders:read'],
      publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    );
    const provider = new PrivateKeyJwtProvider({
      clientId: key.id,
      privateKey: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
      algorithm: alg,
      expectedIssuer: running.issuer,
    });
    const client = await connect(provider);
    expect((await client.listTools()).tools).toHaveLength(2);
    const listed = (await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText;
    expect(JSON.parse(listed.content[0].text)).toEqual([]);
    await expect(
      client.callTool({ name: 'create_order', arguments: { item: 'widget', quantity: 1 } }),
    ).rejects.toThrow(/\b403\b/);

    await running.keys.revoke(key.id);
    await expect(client.callTool({ name: 'list_orders', arguments: {} })).rejects.toThrow(
      /authentication failed/i,
    );
  });

  // Last: it moves the app's clock past the tokens' lifetime.
  it('gets a new token with the key when its token has expired', async () => {
    const key = await keyWith(['orders:read']);
    const provider = secretProvider(key);
    const client = await connect(provider);
    expect(((await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText).isError).toBeFalsy();
    const first = provider.tokens()!.access_token;

    running.clock.now += 16 * 60_000;
    expect(((await client.callTool({ name: 'list_orders', arguments: {} })) as ToolText).isError).toBeFalsy();
    expect(provider.tokens()!.access_token).not.toBe(first);
  });
});
