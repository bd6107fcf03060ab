import { readFileSync } from 'node:fs';
import type { ApiKeySettings } from '../keys/api-key.types.js';
import { UsageError, type CliValues, type OptionName } from './cli.arguments.js';

/**
 * The key settings given on the command line, in `ApiKeyService`'s terms. Only the shape is checked here
 * (a list, a number, `limit/window`); the service checks the values, so the CLI and the API refuse alike.
 */
export function settingsOf(values: CliValues): ApiKeySettings {
  const settings: ApiKeySettings = {};
  const text = (name: OptionName): string | undefined =>
    typeof values[name] === 'string' ? (values[name] as string) : undefined;

  if (text('name') !== undefined) settings.name = text('name');
  if (text('scopes') !== undefined) settings.scopes = listOf(text('scopes')!);
  if (text('expires-in') !== undefined) settings.expiresIn = text('expires-in');
  const expiresAt = text('expires-at');
  if (expiresAt !== undefined) settings.expiresAt = expiresAt === 'never' ? null : expiresAt;
  const ips = text('allowed-ips');
  if (ips !== undefined) settings.allowedIps = ips === 'any' ? null : listOf(ips);
  const referrers = text('allowed-referrers');
  if (referrers !== undefined) settings.allowedReferrers = referrers === 'any' ? null : listOf(referrers);
  const metadata = text('metadata');
  if (metadata !== undefined) settings.metadata = metadata === 'none' ? null : objectOf(metadata);
  const rateLimits = values['rate-limit'];
  if (Array.isArray(rateLimits) && rateLimits.length > 0) Object.assign(settings, rateLimitsOf(rateLimits));
  const remaining = text('remaining');
  if (remaining !== undefined)
    settings.remaining = remaining === 'none' ? null : integerOf('remaining', remaining);
  const refill = text('quota-refill');
  if (refill !== undefined) {
    const [amount, interval] = pairOf('quota-refill', refill, '1000/1d');
    settings.quotaRefill = refill === 'none' ? null : { amount, interval };
  }
  const publicKey = text('public-key');
  if (publicKey !== undefined)
    settings.publicKey = publicKey === 'none' ? null : fileOf('public-key', publicKey);
  if (values['require-proof'] && values['no-require-proof']) {
    throw new UsageError('Give --require-proof or --no-require-proof, not both.');
  }
  if (values['require-proof']) settings.requireProof = true;
  if (values['no-require-proof']) settings.requireProof = false;
  return settings;
}

/**
 * `--rate-limit` once or more: `600/1m` (the key's one limit), `burst=10/1s` (named), a `:smooth` suffix for
 * the smooth policy; several unnamed limits are named after their windows (`per1s`). `default` or `none`
 * removes the key's own limits, so the module's default applies again.
 */
function rateLimitsOf(texts: readonly string[]): Pick<ApiKeySettings, 'rateLimit' | 'rateLimits'> {
  if (texts.length === 1 && (texts[0] === 'default' || texts[0] === 'none')) return { rateLimit: null };
  const limits = texts.map((text) => {
    const match = /^(?:([^=\s]+)=)?(\d+\/[^:\s]+)(?::(smooth|sliding))?$/.exec(text);
    if (!match) {
      throw new UsageError(
        '--rate-limit must be [name=]<count>/<duration>[:smooth], such as 600/1m or burst=10/1s, or default.',
      );
    }
    const [limit, window] = pairOf('rate-limit', match[2], '600/1m');
    const policy = match[3] as 'smooth' | 'sliding' | undefined;
    return { name: match[1], setting: { limit, window, ...(policy ? { policy } : {}) } };
  });
  if (limits.length === 1 && limits[0].name === undefined) return { rateLimit: limits[0].setting };
  const named: NonNullable<ApiKeySettings['rateLimits']> = {};
  for (const { name, setting } of limits) {
    const key = name ?? `per${String(setting.window)}`;
    if (named[key]) throw new UsageError(`--rate-limit names "${key}" twice.`);
    named[key] = setting;
  }
  return { rateLimits: named };
}

/** `a, b,,c` as `['a', 'b', 'c']`. */
export function listOf(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function objectOf(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError('--metadata must be a JSON object, such as \'{"team":"billing"}\', or none.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError('--metadata must be a JSON object, such as \'{"team":"billing"}\', or none.');
  }
  return value as Record<string, unknown>;
}

/** The text of a file named on the command line; its content is never printed (it could be a private key). */
function fileOf(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  }
}

function integerOf(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number or none.`);
  return Number(text);
}

/** `600/1m` as `[600, '1m']`; a bare number of seconds stays a number, as durations allow. */
function pairOf(name: string, text: string, example: string): [number, string | number] {
  if (text === 'none' || text === 'default') return [0, 0];
  const match = /^(\d+)\/(\S+)$/.exec(text);
  if (!match) throw new UsageError(`--${name} must be <count>/<duration>, such as ${example}.`);
  const duration = /^\d+$/.test(match[2]) ? Number(match[2]) : match[2];
  return [Number(match[1]), duration];
}
