import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { isResourcePath } from '../common/resource-path.util.js';
import { ScopeCatalog } from '../scopes/scope.catalog.js';
import { DPOP_ALGORITHMS } from '../dpop/dpop-proof.keys.js';

/**
 * RFC 9728 protected resource metadata. The protected resource is the API at the issuer's URL (the app
 * serves both roles), and every path under it; this app is its only authorization server.
 */
@Injectable()
export class ProtectedResourceMetadata {
  private readonly documents = new Map<string, Record<string, unknown>>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    private readonly scopes: ScopeCatalog,
  ) {}

  /**
   * The document for the resource at `path` under the API (`''` for the API itself), or `undefined` for a
   * path that names no resource.
   */
  get(path = ''): Record<string, unknown> | undefined {
    if (path !== '' && !isResourcePath(path)) return undefined;
    let document = this.documents.get(path);
    if (!document) {
      const { issuer } = this.options.tokens;
      document = {
        resource: `${issuer}${path}`,
        authorization_servers: [issuer],
        scopes_supported: this.scopes.all(),
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      };
      // A client may ask about any path: only the API's own document is kept once built.
      if (path === '') this.documents.set(path, document);
    }
    return document;
  }
}
