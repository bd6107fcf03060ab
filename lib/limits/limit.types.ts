import type { LimitPolicy, LimitScope, NamedLimit } from '../interfaces/rate-limit.interface.js';

export type { LimitPolicy, LimitScope, NamedLimit };

/** The limits of one counter: a key's, an owner's, an address's. */
export interface LimitCounter {
  /** The counter's id within the limiter's namespace: a key id, a subject, an address. */
  id: string;
  scope: LimitScope;
  limits: readonly NamedLimit[];
}

/** Where one limit stands after a check. */
export interface LimitState {
  name: string;
  scope: LimitScope;
  policy: LimitPolicy;
  limit: number;
  windowSeconds: number;
  /** Units left now. */
  remaining: number;
  /** Seconds until units come back: when refused, until enough of them have for this request. */
  resetSeconds: number;
}

/** The answer to a check of several limits: all admit the cost and it is counted on each, or none counts it. */
export interface LimitDecision {
  allowed: boolean;
  /** Every limit checked, in the order given. */
  states: LimitState[];
  /** The limit that refused: the one the client waits longest for. */
  refused?: LimitState;
  /** The request's cost exceeds `refused.limit`: it can never be admitted. */
  tooCostly?: boolean;
}

/** What a store answers for one counter: per limit, the units left and ms until units come back. */
export interface StoreAnswer {
  /** Index of the refusing limit, or -1. */
  refused: number;
  /** Units granted (the cost, or up to a lease's size); 0 when refused. */
  granted: number;
  remaining: number[];
  resetMs: number[];
}

/** The limit that binds: the one refused, else the one with the fewest units left. */
export function bindingState(decision: LimitDecision): LimitState {
  if (decision.refused) return decision.refused;
  let binding = decision.states[0];
  for (const state of decision.states) if (state.remaining < binding.remaining) binding = state;
  return binding;
}
