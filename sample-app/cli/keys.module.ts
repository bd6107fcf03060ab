import { AppModule } from '../app.module.js';
import { configFromEnvironment } from '../app.config.js';

/**
 * The sample app's root module, configured as the server configures it, for `keybridge keys --module`
 * (`npm run keys`): the CLI boots it as an application context, so a revocation made there reaches the
 * running app through the same database or Redis denylist. An app whose root module is a plain class points
 * the CLI at that class instead.
 */
export const KeysCliModule = AppModule.forRoot(configFromEnvironment());
