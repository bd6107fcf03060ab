import { CreateKeybridgeApiKeys1763800000000 } from './1763800000000-create-api-keys.migration.js';
import { CreateKeybridgeDenylist1763900000000 } from './1763900000000-create-denylist.migration.js';
import { AddKeybridgeClientKeys1764000000000 } from './1764000000000-add-client-keys.migration.js';
import { CreateKeybridgeReplay1764100000000 } from './1764100000000-create-replay.migration.js';
import { CreateKeybridgeSubjectLimits1764200000000 } from './1764200000000-create-subject-limits.migration.js';

/** The migrations to add to the app's DataSource `migrations`, in order. They pick the dialect themselves. */
export const KEYBRIDGE_MIGRATIONS = [
  CreateKeybridgeApiKeys1763800000000,
  CreateKeybridgeDenylist1763900000000,
  AddKeybridgeClientKeys1764000000000,
  CreateKeybridgeReplay1764100000000,
  CreateKeybridgeSubjectLimits1764200000000,
] as const;

export {
  CreateKeybridgeApiKeys1763800000000,
  CreateKeybridgeDenylist1763900000000,
  AddKeybridgeClientKeys1764000000000,
  CreateKeybridgeReplay1764100000000,
  CreateKeybridgeSubjectLimits1764200000000,
};
