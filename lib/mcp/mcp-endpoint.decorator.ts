import { applyDecorators, SetMetadata } from '@nestjs/common';
import { REQUEST_SCOPES_METADATA, RESOURCE_PATH_METADATA } from '../api-key.constants.js';
import { isResourcePath } from '../common/resource-path.util.js';
import type { McpToolScopes } from './mcp-tool.scopes.js';

/** Where an MCP endpoint is, and its tools' scopes. */
export interface McpEndpointOptions {
  /** The endpoint's path under the issuer URL, as a client calls it (`/mcp`): its protected resource. */
  resource: string;
  tools: McpToolScopes;
}

/**
 * Marks a controller as an MCP endpoint for the keybridge guards: a `tools/call` needs the called tool's
 * scopes (on top of the route's `@Scopes()`), refused before dispatch with 403 `insufficient_scope`, and the
 * challenges of its 401 and 403 name the endpoint's own protected resource metadata
 * (`<issuer>/.well-known/oauth-protected-resource/mcp`), whose `resource` is `<issuer>/mcp`.
 *
 * @publicApi
 */
export function McpEndpoint(options: McpEndpointOptions): ClassDecorator {
  if (!isResourcePath(options.resource)) {
    throw new TypeError(
      `@McpEndpoint(): resource ${JSON.stringify(options.resource)} is not a path like "/mcp".`,
    );
  }
  return applyDecorators(
    SetMetadata(RESOURCE_PATH_METADATA, options.resource),
    SetMetadata(REQUEST_SCOPES_METADATA, options.tools),
  );
}
