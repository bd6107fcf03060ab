import type { KeyEnvironment } from '../interfaces/key-prefixes.interface.js';
import { randomBase62 } from './base62.util.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { generateKey, keyHint } from './api-key.format.js';
import type { ApiKeyHasher } from './api-key.hasher.js';
import type { SettingColumns } from './api-key.validation.js';

/** A row ready to insert, with the key it stands for: the only time the key exists outside the client. */
export interface NewKeyRecord {
  record: ApiKeyEntity;
  key: string;
}

/** A fresh key and the parts of its row that come from it: id, hash and hint. */
function freshKey(hasher: ApiKeyHasher, prefix: string) {
  const key = generateKey(prefix);
  return { key, id: `key_${randomBase62(22)}`, keyHash: hasher.hash(key), hint: keyHint(key, prefix) };
}

/** The row of a new key with validated settings; the subject defaults to the key's own id. */
export function newKeyRecord(
  hasher: ApiKeyHasher,
  prefix: string,
  input: {
    environment: KeyEnvironment;
    subject: string | undefined;
    settings: Partial<SettingColumns>;
    createdAt: Date;
  },
): NewKeyRecord {
  const { key, ...identity } = freshKey(hasher, prefix);
  const { settings, createdAt } = input;
  const record: ApiKeyEntity = {
    ...identity,
    environment: input.environment,
    name: settings.name!,
    subject: input.subject ?? identity.id,
    scopes: settings.scopes!,
    metadata: settings.metadata ?? null,
    allowedIps: settings.allowedIps ?? null,
    allowedReferrers: settings.allowedReferrers ?? null,
    rateLimit: settings.rateLimit ?? null,
    // A refilling quota without a starting balance starts full.
    remaining: settings.remaining ?? settings.quotaRefill?.amount ?? null,
    quotaRefill: settings.quotaRefill ?? null,
    quotaRefilledAt: settings.quotaRefill ? createdAt : null,
    usageCount: 0,
    createdAt,
    updatedAt: createdAt,
    expiresAt: settings.expiresAt ?? null,
    lastUsedAt: null,
    disabledAt: null,
    revokedAt: null,
    revokedReason: null,
    rotatedFromId: null,
    rotatedToId: null,
    graceEndsAt: null,
    publicKey: settings.publicKey ?? null,
    requireProof: settings.requireProof ?? false,
  };
  return { record, key };
}

/** The row of the key that replaces `record` in a rotation: the same settings, a new key, fresh usage. */
export function successorRecord(
  hasher: ApiKeyHasher,
  prefix: string,
  record: ApiKeyEntity,
  now: Date,
): NewKeyRecord {
  const { key, ...identity } = freshKey(hasher, prefix);
  const successor: ApiKeyEntity = {
    ...record,
    ...identity,
    usageCount: 0,
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    quotaRefilledAt: record.quotaRefill ? now : null,
    rotatedFromId: record.id,
    rotatedToId: null,
    graceEndsAt: null,
  };
  return { record: successor, key };
}
