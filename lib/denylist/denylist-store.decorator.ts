import { Inject } from '@nestjs/common';
import { DenylistStore } from '../interfaces/denylist-store.interface.js';

/** Injects the `DenylistStore` the module uses. @publicApi */
export const InjectDenylistStore = (): PropertyDecorator & ParameterDecorator => Inject(DenylistStore);

/** The injection token of the `DenylistStore` the module uses. @publicApi */
export const getDenylistStoreToken = (): typeof DenylistStore => DenylistStore;
