import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { Principal } from 'nestjs-keybridge';

/**
 * `@nestjs/throttler` with one budget per API key (or per key a token was minted from), and per client address
 * for requests without one. It sees `request.user` only because it runs after the key guard.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: { user?: Principal; ip?: string }): Promise<string> {
    return request.user ? `key:${request.user.keyId}` : `ip:${request.ip}`;
  }
}
