import { isValidScope, GrantedScopes } from '../scopes/scope.matcher.js';

/** What the MCP SDK hands a tool callback as `extra.authInfo`; `serveMcp()` fills it from the principal. */
export interface McpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  expiresAt?: number;
  extra?: Record<string, unknown>;
}

/** The part of the SDK's `McpServer` a scoped tool is registered on (kept structural: the SDK is optional). */
export interface McpToolServer {
  registerTool(name: string, config: object, callback: ToolCallback): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a tool callback's arguments are the SDK's to type
type ToolCallback = (...args: any[]) => unknown;

/**
 * The scopes of each tool of an MCP server, declared once, before any request: the guard of the route that
 * carries `@McpEndpoint({ tools })` reads a `tools/call` body and requires the named tool's scopes before the
 * call is dispatched (a 403 `insufficient_scope` naming them), and `register()` checks them again inside the
 * tool, so a tool registered through it never runs for a caller without them.
 *
 * @publicApi
 */
export class McpToolScopes {
  private readonly byTool: ReadonlyMap<string, readonly string[]>;

  /** `tools`: each tool's name and the scopes a caller must hold to call it (`[]`: any credential). */
  constructor(tools: Readonly<Record<string, readonly string[]>>) {
    const entries = Object.entries(tools).map(([name, scopes]): [string, readonly string[]] => {
      const invalid = scopes.find((s) => !isValidScope(s) || s.endsWith(':*'));
      if (invalid !== undefined) {
        throw new TypeError(
          `McpToolScopes: tool ${JSON.stringify(name)} requires ${JSON.stringify(invalid)}, which is not a scope (like "orders:read").`,
        );
      }
      return [name, Object.freeze([...scopes])];
    });
    this.byTool = new Map(entries);
  }

  /** Every scope some tool requires, for the protected resource metadata and the docs. */
  all(): string[] {
    return [...new Set([...this.byTool.values()].flat())].sort();
  }

  /** The scopes a tool requires, or `undefined` for a tool that was not declared. */
  scopesOf(tool: string): readonly string[] | undefined {
    return this.byTool.get(tool);
  }

  /**
   * The scopes a parsed JSON-RPC body asks for: those of each `tools/call` in it (a batch adds them up).
   * Anything else asks for none here: an unknown tool is the SDK's to refuse, a malformed body the SDK's to
   * answer with a JSON-RPC parse error.
   */
  readonly scopesOfBody = (body: unknown): readonly string[] => {
    const messages = Array.isArray(body) ? (body as unknown[]) : [body];
    const scopes = new Set<string>();
    for (const message of messages) {
      const tool = calledTool(message);
      for (const scope of tool === undefined ? [] : (this.byTool.get(tool) ?? [])) scopes.add(scope);
    }
    return [...scopes];
  };

  /**
   * `callback`, refusing a caller whose `authInfo` lacks the scopes declared for `tool`; pass it to
   * `server.registerTool(tool, config, …)` under the same name. A tool that was not declared is a
   * programming error, thrown here.
   */
  guard<Callback extends ToolCallback>(tool: string, callback: Callback): Callback {
    const required = this.byTool.get(tool);
    if (required === undefined) {
      throw new TypeError(`McpToolScopes: tool ${JSON.stringify(tool)} was not declared with its scopes.`);
    }
    const run = callback as unknown as (...args: unknown[]) => unknown;
    const guarded = (...args: unknown[]): unknown => {
      const extra = args[args.length - 1] as { authInfo?: McpAuthInfo } | undefined;
      const authInfo = extra?.authInfo;
      if (authInfo === undefined || !new GrantedScopes(authInfo.scopes).grantsAll(required)) {
        // The SDK answers a throwing tool with an `isError` result carrying this message.
        throw new Error(`insufficient_scope: the tool ${tool} needs ${required.join(' ')}.`);
      }
      return run(...args);
    };
    return guarded as unknown as Callback;
  }

  /** Registers a declared tool on `server` (`McpServer.registerTool`) with its callback guarded. */
  register(server: McpToolServer, tool: string, config: object, callback: ToolCallback): void {
    server.registerTool(tool, config, this.guard(tool, callback));
  }
}

function calledTool(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
  if (method !== 'tools/call' || typeof params !== 'object' || params === null) return undefined;
  return typeof params.name === 'string' ? params.name : undefined;
}
