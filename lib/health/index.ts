/**
 * `nestjs-keybridge/health`: the `@nestjs/terminus` health indicator, in an entry point of its own so that
 * apps without `@nestjs/terminus` (an optional peer dependency) never load it.
 */
export { KeybridgeHealthIndicator } from './keybridge.health-indicator.js';
export { KeybridgeHealthProbe, type KeybridgeHealthReport } from './keybridge.health-probe.js';
