import type { ValueTransformer } from 'typeorm';

/**
 * Instants are stored as UTC epoch milliseconds in `bigint` columns: the same on every dialect and free of the
 * session time zone (a `timestamp without time zone` written by a process in another zone would shift).
 * A stored value that is no instant (out of range, or not a number) reads as an Invalid Date, never `null`:
 * readers of a deadline treat it as passed, so a corrupt row fails closed instead of never expiring.
 */
export const epochMilliseconds: ValueTransformer = {
  to: (value: Date | number | null | undefined) => (value instanceof Date ? value.getTime() : value),
  from: (value: string | number | null) =>
    value === null || value === undefined ? null : new Date(Number(value)),
};

/** `bigint` comes back from PostgreSQL as a string. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
