import { SetMetadata } from '@nestjs/common';
import { COST_METADATA } from '../api-key.constants.js';

/**
 * The units of rate limit one request to the route spends, on every limit of the key (default 1): `@Cost(5)`
 * on an expensive export. A request costing more than a limit holds is refused with 429 and never admitted.
 * On a class, the cost of every handler that declares none of its own.
 *
 * @publicApi
 */
export function Cost(units: number): MethodDecorator & ClassDecorator {
  if (!Number.isInteger(units) || units < 1 || units > 1_000_000) {
    throw new TypeError(`@Cost(): ${String(units)} is not a whole number of units from 1 to 1000000.`);
  }
  return SetMetadata(COST_METADATA, units);
}
