import { HttpException } from '@nestjs/common';
import { describe, expect, it } from '@jest/globals';
import {
  AmbiguousCredentialsError,
  type AnyKeybridgeError,
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidArgumentError,
  InvalidOptionsError,
  type InvalidKeyReason,
  KeybridgeError,
  KeyConflictError,
  KeyNotFoundError,
  MissingCredentialsError,
  OAuthError,
  QuotaExhaustedError,
  RateLimitedError,
  rateLimitHeaders,
} from '../../lib/errors/index.js';

const CHALLENGE = 'ApiKey realm="api", header="X-API-Key", Bearer realm="api"';

describe('keybridge errors', () => {
  it.each<[string, () => KeybridgeError, number, string, string]>([
    [
      'MissingCredentialsError',
      () => new MissingCredentialsError(CHALLENGE),
      401,
      'Unauthorized',
      'missing_credentials',
    ],
    [
      'InvalidApiKeyError',
      () => new InvalidApiKeyError('unknown', CHALLENGE),
      401,
      'Unauthorized',
      'invalid_api_key',
    ],
    [
      'InsufficientScopeError',
      () => new InsufficientScopeError(['orders:write']),
      403,
      'Forbidden',
      'insufficient_scope',
    ],
    ['ForbiddenOriginError', () => new ForbiddenOriginError('ip'), 403, 'Forbidden', 'forbidden_origin'],
    [
      'RateLimitedError',
      () => new RateLimitedError({ limit: 10, remaining: 0, resetSeconds: 30 }),
      429,
      'Too Many Requests',
      'rate_limited',
    ],
    [
      'QuotaExhaustedError',
      () => new QuotaExhaustedError({ limit: 1000, remaining: 0, resetSeconds: 3600 }),
      429,
      'Too Many Requests',
      'quota_exhausted',
    ],
    [
      'AuthUnavailableError',
      () => new AuthUnavailableError(),
      503,
      'Service Unavailable',
      'auth_unavailable',
    ],
    [
      'ApiKeyInQueryError',
      () => new ApiKeyInQueryError('api_key', 'X-API-Key'),
      400,
      'Bad Request',
      'api_key_in_query',
    ],
    ['InvalidArgumentError', () => new InvalidArgumentError('bad'), 400, 'Bad Request', 'invalid_argument'],
    ['KeyNotFoundError', () => new KeyNotFoundError('key_123'), 404, 'Not Found', 'key_not_found'],
    ['KeyConflictError', () => new KeyConflictError('already rotated'), 409, 'Conflict', 'key_conflict'],
  ])('%s renders exactly { statusCode, error, message, code }', (name, make, status, error, code) => {
    const thrown = make();
    expect(thrown).toBeInstanceOf(HttpException);
    expect(thrown).toBeInstanceOf(KeybridgeError);
    expect(thrown.name).toBe(name);
    expect(thrown.getStatus()).toBe(status);
    expect(thrown.code).toBe(code);
    const body = thrown.getResponse();
    expect(Object.keys(body as object).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    expect(body).toEqual({ statusCode: status, error, message: thrown.message, code });
    expect(typeof thrown.message).toBe('string');
    expect(thrown.message.length).toBeGreaterThan(0);
    expect(thrown.body).toEqual(body);
  });

  it('stops the app at boot with InvalidOptionsError, which is no HTTP exception and lists every problem', () => {
    const thrown = new InvalidOptionsError(['pepper is required', 'issuer is required']);
    expect(thrown).not.toBeInstanceOf(HttpException);
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown.name).toBe('InvalidOptionsError');
    expect(thrown.code).toBe('invalid_options');
    expect(thrown.problems).toEqual(['pepper is required', 'issuer is required']);
    expect(thrown.message).toBe(
      'ApiKeyModule options are invalid:\n  - pepper is required\n  - issuer is required',
    );
  });

  it('gives every class a code of its own, while AmbiguousCredentialsError still answers invalid_argument', () => {
    const ambiguous = new AmbiguousCredentialsError('X-API-Key');
    expect(ambiguous.code).toBe('ambiguous_credentials');
    expect(AmbiguousCredentialsError.code).toBe('ambiguous_credentials');
    expect(ambiguous.body.code).toBe('invalid_argument');
    const oauth = new OAuthError('invalid_client', 'Client authentication failed.', 401);
    expect(oauth.code).toBe('oauth_error');
    expect(oauth.error).toBe('invalid_client');
    expect(oauth.getResponse()).toEqual({
      error: 'invalid_client',
      error_description: 'Client authentication failed.',
    });
    const describe = (error: AnyKeybridgeError): string => {
      switch (error.code) {
        case 'oauth_error':
          return error.error;
        case 'invalid_options':
          return error.problems.join();
        default:
          return error.code;
      }
    };
    expect(describe(oauth)).toBe('invalid_client');
    expect(describe(new InvalidOptionsError(['a', 'b']))).toBe('a,b');
    expect(describe(ambiguous)).toBe('ambiguous_credentials');
  });

  it('keeps each code on the class too', () => {
    expect(InvalidApiKeyError.code).toBe('invalid_api_key');
    expect(RateLimitedError.code).toBe('rate_limited');
    expect(InvalidOptionsError.code).toBe('invalid_options');
  });

  it('sends the WWW-Authenticate challenge with 401s', () => {
    expect(new MissingCredentialsError(CHALLENGE).headers).toEqual({ 'WWW-Authenticate': CHALLENGE });
    expect(new InvalidApiKeyError('expired', CHALLENGE).headers).toEqual({ 'WWW-Authenticate': CHALLENGE });
  });

  it('gives InvalidApiKeyError byte-identical bodies whatever the reason, keeping the reason for audit', () => {
    const reasons: InvalidKeyReason[] = [
      'malformed',
      'bad_checksum',
      'duplicate_header',
      'unknown',
      'expired',
      'revoked',
      'disabled',
    ];
    const errors = reasons.map((reason) => new InvalidApiKeyError(reason, CHALLENGE, 'key_1'));
    const bodies = new Set(errors.map((e) => JSON.stringify(e.getResponse())));
    expect(bodies.size).toBe(1);
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(errors.map((e) => e.reason)).toEqual(reasons);
    for (const error of errors) {
      expect(JSON.stringify(error.getResponse())).not.toMatch(
        /key_1|malformed|checksum|expired|revoked|disabled/,
      );
    }
  });

  it('names the missing scopes in InsufficientScopeError', () => {
    const error = new InsufficientScopeError(['orders:write', 'orders:refunds:write']);
    expect(error.message).toContain('orders:write');
    expect(error.message).toContain('orders:refunds:write');
    expect(error.missingScopes).toEqual(['orders:write', 'orders:refunds:write']);
  });

  it('says in ForbiddenOriginError whether the address or the referrer was refused', () => {
    expect(new ForbiddenOriginError('ip').message).toMatch(/address/);
    expect(new ForbiddenOriginError('referrer').message).toMatch(/referrer/);
  });

  it('tells the caller in ApiKeyInQueryError to use the header, without echoing any key', () => {
    const error = new ApiKeyInQueryError('apiKey', 'X-API-Key');
    expect(error.message).toContain('apiKey');
    expect(error.message).toContain('X-API-Key header');
  });

  describe('RateLimitedError and QuotaExhaustedError', () => {
    it('carry Retry-After and RateLimit-Limit/Remaining/Reset', () => {
      const error = new RateLimitedError({ limit: 100, remaining: 0, resetSeconds: 42 });
      expect(error.headers).toEqual({
        'Retry-After': '42',
        'RateLimit-Limit': '100',
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '42',
      });
      expect(error.message).toContain('42 seconds');
      expect(new QuotaExhaustedError({ limit: 1000, remaining: 0, resetSeconds: 3600 }).headers).toEqual({
        'Retry-After': '3600',
        'RateLimit-Limit': '1000',
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '3600',
      });
    });

    it('round fractional seconds up and never ask to retry after less than 1 second', () => {
      expect(new RateLimitedError({ limit: 5, remaining: 0, resetSeconds: 0.2 }).headers).toMatchObject({
        'Retry-After': '1',
        'RateLimit-Reset': '1',
      });
      expect(new RateLimitedError({ limit: 5, remaining: 0, resetSeconds: 0 }).headers['Retry-After']).toBe(
        '1',
      );
      expect(
        new QuotaExhaustedError({ limit: 5, remaining: 0, resetSeconds: 10.1 }).headers['Retry-After'],
      ).toBe('11');
    });
  });

  it('rateLimitHeaders never reports negative numbers', () => {
    expect(rateLimitHeaders({ limit: 10, remaining: -3, resetSeconds: -1 })).toEqual({
      'RateLimit-Limit': '10',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '0',
    });
    expect(rateLimitHeaders({ limit: 10, remaining: 7, resetSeconds: 2.5 })).toEqual({
      'RateLimit-Limit': '10',
      'RateLimit-Remaining': '7',
      'RateLimit-Reset': '3',
    });
  });

  it('asks the caller to retry after AuthUnavailableError and keeps the cause out of the body', () => {
    const cause = new Error('ECONNREFUSED 10.0.0.5:5432 password=hunter2');
    const error = new AuthUnavailableError(cause);
    expect(error.headers['Retry-After']).toBe('1');
    expect(error.cause).toBe(cause);
    expect(JSON.stringify(error.getResponse())).not.toMatch(/ECONNREFUSED|hunter2/);
  });

  it('lists every problem of InvalidOptionsError on its own line', () => {
    const error = new InvalidOptionsError(['pepper is required', 'header is invalid']);
    expect(error.message).toBe(
      'ApiKeyModule options are invalid:\n  - pepper is required\n  - header is invalid',
    );
  });
});
