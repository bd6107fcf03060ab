import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionsError } from '../errors/index.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { McpAuthInfo } from './mcp-tool.scopes.js';

/** The part of the SDK's `McpServer` a request is served with. */
export interface McpConnectableServer {
  connect(transport: never): Promise<void>;
  close(): Promise<void>;
}

/** Express's request, or Fastify's with `raw`; the guard has set `user` and the body is parsed. */
interface HttpRequestLike {
  raw?: IncomingMessage;
  method?: string;
  body?: unknown;
  user?: Principal;
}

/** Express's response, or Fastify's reply with `raw` and `hijack()`. */
interface HttpResponseLike {
  raw?: ServerResponse;
  hijack?: () => void;
}

const SDK_TRANSPORT = '@modelcontextprotocol/sdk/server/streamableHttp.js';

interface SdkTransportModule {
  StreamableHTTPServerTransport: new (options: { sessionIdGenerator: undefined }) => {
    handleRequest(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void>;
    close(): Promise<void>;
  };
}

async function loadTransport(): Promise<SdkTransportModule> {
  try {
    return (await import(SDK_TRANSPORT)) as SdkTransportModule;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new InvalidOptionsError([
      'serveMcp() needs @modelcontextprotocol/sdk: run `npm install @modelcontextprotocol/sdk`.',
    ]);
  }
}

/**
 * What a tool sees of its caller as `extra.authInfo`: the principal's key id and scopes. `token` is the
 * token's `jti` (or the key id): an identifier, never the credential itself.
 *
 * @publicApi
 */
export function mcpAuthInfo(principal: Principal): McpAuthInfo {
  return {
    token: principal.type === 'access_token' ? principal.tokenId : principal.keyId,
    clientId: principal.keyId,
    scopes: [...principal.scopes],
    ...(principal.type === 'access_token'
      ? { expiresAt: Math.floor(principal.expiresAt.getTime() / 1000) }
      : {}),
    extra: { subject: principal.subject, credential: principal.type },
  };
}

/** Stateless: no stream to resume with GET, no session to end with DELETE (as the SDK's own example answers). */
const NOT_ALLOWED = JSON.stringify({
  jsonrpc: '2.0',
  error: { code: -32000, message: 'Method not allowed.' },
  id: null,
});

/**
 * Serves one HTTP request of a guarded route (`@All()`, the response taken with `@Res()`) with a server made
 * by `makeServer`, over a stateless Streamable HTTP transport of `@modelcontextprotocol/sdk` (loaded here, so
 * the SDK is needed only by apps that serve MCP), the guard's principal passed to the tools as `authInfo`.
 * A POST is served; any other method is answered 405 `Allow: POST`. The server and transport are closed with
 * the response. Works on Express and Fastify.
 *
 * @publicApi
 */
export async function serveMcp(
  makeServer: () => McpConnectableServer,
  request: HttpRequestLike,
  response: HttpResponseLike,
): Promise<void> {
  const { StreamableHTTPServerTransport } = await loadTransport();
  const req = (request.raw ?? request) as IncomingMessage & { auth?: McpAuthInfo };
  const res = (response.raw ?? response) as ServerResponse;
  response.hijack?.();
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' }).end(NOT_ALLOWED);
    return;
  }
  if (request.user) req.auth = mcpAuthInfo(request.user);
  const server = makeServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport as never);
  await transport.handleRequest(req, res, request.body);
}
