/** A length of time: a number of seconds, or a string such as `'500ms'`, `'30s'`, `'15m'`, `'24h'`, `'30d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** Milliseconds in `value`, or `undefined` when it is not a duration. */
export function parseDuration(value: Duration): number | undefined {
  if (typeof value === 'number') {
    const ms = Math.round(value * 1000);
    return Number.isFinite(ms) && value >= 0 ? ms : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2]]);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The longest delay a Node timer honours; longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
