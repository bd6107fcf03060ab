/** How reports write numbers and name results, shared by the console lines and the markdown tables. */
import type { LimitsStore, RouteName } from './bench.config.js';
import type { ConfigResult } from './run.model.js';

export const format = (n: number): string => Math.round(n).toLocaleString('en-US');
export const ratioText = (n: number): string => n.toFixed(2);
export const micro = (n: number): string => n.toFixed(1);
export const keyCount = (n: number): string => `${format(n)} key${n === 1 ? '' : 's'}`;
/** A table cell for a figure that older reports or some servers lack. */
export const cell = (value: number | undefined, text: (n: number) => string): string =>
  value === undefined ? '–' : text(value);

/** The route a result measured; reports from before the OAuth routes measured the API key only. */
export const routeOf = (result: ConfigResult): RouteName => result.route ?? 'apikey';
/** Where a result's server counted rate limits; reports from before the option counted in memory. */
export const limitsOf = (result: ConfigResult): LimitsStore => result.limits ?? 'memory';
/** The server a result comes from: its routes share the unguarded baseline. */
export const serverId = (r: ConfigResult): string =>
  `${r.adapter}/${r.db}/${r.keys}/${r.cache}/${limitsOf(r)}`;
