import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { clientAddress, type IncomingRequestLike } from '../common/client-address.util.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';

/**
 * The client address of a request as the module sees it, trusting `trustedProxies` hops of
 * `X-Forwarded-For`: the address allow-lists, the failed-authentication throttle and audit events use.
 * Inject it to record the same address in an app's own audit trail.
 *
 * @publicApi
 */
@Injectable()
export class ClientAddressResolver {
  constructor(@Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions) {}

  of(request: IncomingRequestLike): string | undefined {
    return clientAddress(request, this.options.trustedProxies);
  }
}
