import { SetMetadata } from '@nestjs/common';
import { PUBLIC_METADATA } from '../api-key.constants.js';

/** Lets a route (or every route of a controller) through the global guard without a credential. @publicApi */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_METADATA, true);
