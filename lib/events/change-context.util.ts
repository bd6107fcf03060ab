import type { ChangeContext } from '../interfaces/keybridge-event.interface.js';

/** The fields of a `ChangeContext` that go into an event, and nothing else a caller's object may carry. */
export function changeContext(context: ChangeContext | undefined): ChangeContext {
  if (!context) return {};
  const fields: ChangeContext = {};
  if (typeof context.ip === 'string') fields.ip = context.ip;
  if (typeof context.actor === 'string') fields.actor = context.actor;
  return fields;
}
