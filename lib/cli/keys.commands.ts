import type { ApiKeyService } from '../keys/api-key.service.js';
import type { ChangeContext } from '../interfaces/keybridge-event.interface.js';
import type { CommandLine } from './cli.arguments.js';
import { keyDetails, keyTable, newKeyText } from './cli.output.js';
import { listOf, settingsOf } from './key-settings.parser.js';

/** What a command answers: the value `--json` prints, and the text a person reads. */
export interface CommandResult {
  value: unknown;
  text: string;
}

/** Audit events of changes made here say so. */
const CONTEXT: ChangeContext = { actor: 'cli' };

/** Runs one `keys` command against the app's own `ApiKeyService`. */
export async function runKeysCommand(
  keys: ApiKeyService,
  line: Extract<CommandLine, { group: 'keys' }>,
): Promise<CommandResult> {
  const { verb, values } = line;
  const id = line.id!;
  switch (verb) {
    case 'create': {
      const created = await keys.create(
        {
          ...settingsOf(values),
          name: values.name as string,
          scopes: typeof values.scopes === 'string' ? listOf(values.scopes) : [],
          subject: values.subject as string | undefined,
          environment: values.test ? 'test' : undefined,
        },
        CONTEXT,
      );
      return { value: created, text: newKeyText(`Created ${created.id} (${created.name}).`, created) };
    }
    case 'list': {
      const list = await keys.list({
        subject: values.subject as string | undefined,
        includeRevoked: values.all === true,
        limit: 1000,
      });
      return { value: list, text: keyTable(list) };
    }
    case 'get': {
      const key = await keys.get(id);
      return { value: key, text: keyDetails(key) };
    }
    case 'update': {
      const key = await keys.update(id, settingsOf(values), CONTEXT);
      return { value: key, text: `Updated ${key.id} (${key.name}).\n\n${keyDetails(key)}` };
    }
    case 'revoke': {
      const key = await keys.revoke(id, values.reason as string | undefined, CONTEXT);
      return { value: key, text: `Revoked ${key.id} (${key.name}) and every token minted from it.` };
    }
    case 'rotate': {
      const grace = values.grace as string | undefined;
      const rotated = await keys.rotate(id, { grace: grace === '0' ? 0 : grace }, CONTEXT);
      const until = grace === '0' ? 'now (revoked)' : `the end of its grace period (${grace ?? '24h'})`;
      return {
        value: rotated,
        text: newKeyText(
          `Rotated ${id} to ${rotated.id} (${rotated.name}); the old key works until ${until}.`,
          rotated,
        ),
      };
    }
    case 'disable': {
      const key = await keys.disable(id, CONTEXT);
      return {
        value: key,
        text: `Disabled ${key.id} (${key.name}); enable it again with: keys enable ${key.id}`,
      };
    }
    case 'enable': {
      const key = await keys.enable(id, CONTEXT);
      return { value: key, text: `Enabled ${key.id} (${key.name}).` };
    }
  }
}
