import type { ApiKeyModuleOptions } from '../interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { durationOption, HOUR_MS } from './option.parsers.js';

/** Checks the `dpop` option: the nonce switch, the nonce lifetime and the proof age. */
export function resolveDpop(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  const dpop = options.dpop;
  if (dpop === undefined) return;
  if (dpop === null || typeof dpop !== 'object' || Array.isArray(dpop)) {
    problems.push('dpop must be an object such as { nonce: true }.');
    return;
  }
  if (dpop.nonce !== undefined) {
    if (typeof dpop.nonce !== 'boolean') problems.push('dpop.nonce must be true or false.');
    else resolved.dpop.nonce = dpop.nonce;
  }
  resolved.dpop.nonceLifetimeMs =
    durationOption(problems, 'dpop.nonceLifetime', dpop.nonceLifetime, 10_000, HOUR_MS, '"5m"') ??
    resolved.dpop.nonceLifetimeMs;
  resolved.dpop.proofMaxAgeMs =
    durationOption(problems, 'dpop.proofMaxAge', dpop.proofMaxAge, 1000, 5 * 60_000, '"60s"') ??
    resolved.dpop.proofMaxAgeMs;
}
