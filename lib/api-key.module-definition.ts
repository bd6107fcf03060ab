import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ApiKeyModuleExtras, ApiKeyModuleOptions } from './interfaces/api-key-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableApiKeyModule,
  MODULE_OPTIONS_TOKEN: API_KEY_MODULE_OPTIONS,
  OPTIONS_TYPE: API_KEY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: API_KEY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ApiKeyModuleOptions>({ moduleName: 'ApiKey' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createApiKeyOptions')
  .setExtras<ApiKeyModuleExtras>(
    { isGlobal: true, globalGuard: false, dataSource: undefined, oauth: undefined },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }),
  )
  .build();
