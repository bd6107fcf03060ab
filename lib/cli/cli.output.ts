import type { LoggerService } from '@nestjs/common';
import type { ApiKeyView, CreatedApiKey } from '../keys/api-key.types.js';
import type { KeyRateLimit } from '../keys/api-key.entity.js';

/**
 * Nest's logger for the CLI: warnings and errors to stderr, one line each, without the stack traces Nest and
 * TypeORM attach (a connection error's stack says nothing to someone making a key, and stdout belongs to the
 * result). `verbose` lets the app's ordinary log lines through too, still on stderr.
 */
export class StderrLogger implements LoggerService {
  constructor(private readonly chatty = false) {}

  log(message: unknown, ...context: unknown[]): void {
    if (this.chatty) this.write('LOG', message, context);
  }
  warn(message: unknown, ...context: unknown[]): void {
    this.write('WARN', message, context);
  }
  error(message: unknown, ...context: unknown[]): void {
    this.write('ERROR', message, context);
  }

  private write(level: string, message: unknown, context: unknown[]): void {
    const text = message instanceof Error ? message.message : String(message);
    // Nest passes (message, stack?, context): only the last string, when it is a short name, is the context.
    const last = context.at(-1);
    const name = typeof last === 'string' && /^[\w.-]{1,60}$/.test(last) ? `[${last}] ` : '';
    process.stderr.write(`${level} ${name}${text.split('\n')[0]}\n`);
  }
}

/**
 * Whatever the app prints with `console.log` while it boots (a banner, a debug line) goes to stderr, so
 * `--json` output stays one parseable value.
 */
export function routeConsoleToStderr(): void {
  const toStderr = (...args: unknown[]): void => console.error(...args);
  Object.assign(console, { log: toStderr, info: toStderr, debug: toStderr });
}

export function printResult(json: boolean, value: unknown, text: string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : text}\n`);
}

/** A stored instant for people; a column value that is no date (written by hand) must not stop the output. */
function instant(date: Date | null, none: string): string {
  if (!date) return none;
  return Number.isFinite(date.getTime()) ? date.toISOString() : 'invalid';
}

/** One row per key, columns padded for reading in a terminal. */
export function keyTable(keys: readonly ApiKeyView[]): string {
  if (keys.length === 0) return 'No keys.';
  const header = ['ID', 'NAME', 'STATUS', 'SCOPES', 'HINT', 'EXPIRES', 'LAST USED'];
  const rows = keys.map((k) => [
    k.id,
    k.name,
    k.status,
    k.scopes.join(' '),
    k.hint,
    instant(k.expiresAt, '-'),
    instant(k.lastUsedAt, 'never'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Every setting of one key, a line each. */
export function keyDetails(key: ApiKeyView): string {
  const json = (value: unknown): string => (value === null ? '-' : JSON.stringify(value));
  const lines: [string, string][] = [
    ['id', key.id],
    ['name', key.name],
    ['subject', key.subject],
    ['environment', key.environment],
    ['status', key.status],
    ['hint', key.hint],
    ['scopes', key.scopes.join(' ') || '(none)'],
    ['expires', instant(key.expiresAt, 'never')],
    ['allowed IPs', key.allowedIps?.join(' ') || 'any'],
    ['allowed referrers', key.allowedReferrers?.join(' ') || 'any'],
    ['rate limit', rateLimitText(key)],
    ['remaining', key.remaining === null ? 'no quota' : String(key.remaining)],
    ['quota refill', key.quotaRefill ? `${key.quotaRefill.amount}/${key.quotaRefill.intervalSeconds}s` : '-'],
    ['metadata', json(key.metadata)],
    [
      'public key',
      key.publicKey ? `${key.publicKey.crv ?? key.publicKey.kty} ${key.publicKey.kid ?? ''}`.trim() : '-',
    ],
    ['require proof', key.requireProof ? 'yes' : 'no'],
    ['usage count', String(key.usageCount)],
    ['last used', instant(key.lastUsedAt, 'never')],
    ['created', instant(key.createdAt, '-')],
    ['updated', instant(key.updatedAt, '-')],
  ];
  if (key.disabledAt) lines.push(['disabled', instant(key.disabledAt, '-')]);
  if (key.revokedAt)
    lines.push(['revoked', `${instant(key.revokedAt, '-')} ${key.revokedReason ?? ''}`.trim()]);
  if (key.rotatedFromId) lines.push(['rotated from', key.rotatedFromId]);
  if (key.rotatedToId)
    lines.push(['rotated to', `${key.rotatedToId} (grace ends ${instant(key.graceEndsAt, '-')})`]);
  const width = Math.max(...lines.map(([label]) => label.length));
  return lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** A new key, shown this once, with what it is. */
export function newKeyText(headline: string, created: CreatedApiKey): string {
  return [
    headline,
    `Scopes: ${created.scopes.join(' ') || '(none)'}`,
    `Expires: ${instant(created.expiresAt, 'never')}`,
    '',
    `  ${created.key}`,
    '',
    'This is the only time the key is shown. Store it now.',
  ].join('\n');
}

/** `600/60s`, `burst=10/1s sustained=1000/3600s`, with `:smooth` for the smooth policy. */
function rateLimitText(key: ApiKeyView): string {
  const one = (limit: KeyRateLimit) =>
    `${limit.limit}/${limit.windowSeconds}s${limit.policy === 'smooth' ? ':smooth' : ''}`;
  if (key.rateLimits) {
    return Object.entries(key.rateLimits)
      .map(([name, limit]) => `${name}=${one(limit)}`)
      .join(' ');
  }
  return key.rateLimit ? one(key.rateLimit) : 'module default';
}
