import { parseArgs } from 'node:util';

export const USAGE = `Usage: keybridge keys <command> [options]
       keybridge subject-limits <set | get> <subject> [options]

Commands:
  create --name <name> --scopes <a,b> [--subject <s>] [--test] [settings]   prints the new key once
  list [--subject <s>] [--all]                                              --all includes revoked keys
  get <id>
  update <id> [settings]
  revoke <id> [--reason <text>]                     also revokes every token minted from the key
  rotate <id> [--grace <24h>]                       prints the new key once; --grace 0 revokes the old key now
  disable <id>
  enable <id>

Limits of an owner (a key's subject), shared by all of its keys and their tokens:
  subject-limits set <subject> [--rate-limit <100/1m | none>] [--quota <10000/30d | 500 | none>]
                     --quota n/interval refills to n every interval (starting full); --quota n is a one-off
  subject-limits get <subject>

Settings (create and update):
  --name <name>  --scopes <a,b>  --expires-in <30d>  --expires-at <ISO date | never>
  --allowed-ips <ip,cidr | any>  --allowed-referrers <host,origin | any>  --metadata <JSON object | none>
  --rate-limit <[name=]limit/window[:smooth], e.g. 600/1m | burst=10/1s | default>   repeat for several limits
  --remaining <n | none>  --quota-refill <amount/interval | none>
  --public-key <file: JWK or PEM public key | none>   the client's key for private_key_jwt
  --require-proof | --no-require-proof                refuse (or accept again) the key alone

Every command:
  --module <file[#export]>   the app's compiled root module (default: KEYBRIDGE_MODULE, then the "keybridge"
                             field of the nearest package.json: { "module": "dist/app.module.js", "export"? })
  --json                     one JSON value on stdout and nothing else; messages go to stderr
  -h, --help

The app module is booted as a Nest application context with the app's own configuration (database,
pepper, Redis), so a revocation made here reaches the running app through the same denylist.`;

/** Bad usage: exit code 2, with the usage text. */
export class UsageError extends Error {}

export const VERBS = ['create', 'list', 'get', 'update', 'revoke', 'rotate', 'disable', 'enable'] as const;
export type Verb = (typeof VERBS)[number];

const OPTIONS = {
  module: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  name: { type: 'string' },
  scopes: { type: 'string' },
  subject: { type: 'string' },
  test: { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  reason: { type: 'string' },
  grace: { type: 'string' },
  'expires-in': { type: 'string' },
  'expires-at': { type: 'string' },
  'allowed-ips': { type: 'string' },
  'allowed-referrers': { type: 'string' },
  metadata: { type: 'string' },
  'rate-limit': { type: 'string', multiple: true },
  remaining: { type: 'string' },
  'quota-refill': { type: 'string' },
  quota: { type: 'string' },
  'public-key': { type: 'string' },
  'require-proof': { type: 'boolean', default: false },
  'no-require-proof': { type: 'boolean', default: false },
} as const;

export type OptionName = keyof typeof OPTIONS;
export type CliValues = Partial<Record<OptionName, string | boolean | string[]>>;

const COMMON: readonly OptionName[] = ['module', 'json', 'help'];
const SETTINGS: readonly OptionName[] = [
  'name',
  'scopes',
  'expires-in',
  'expires-at',
  'allowed-ips',
  'allowed-referrers',
  'metadata',
  'rate-limit',
  'remaining',
  'quota-refill',
  'public-key',
  'require-proof',
  'no-require-proof',
];
/** The options each command takes besides the common ones; anything else is a usage error, not ignored. */
const ACCEPTED: Record<Verb, readonly OptionName[]> = {
  create: [...SETTINGS, 'subject', 'test'],
  list: ['subject', 'all'],
  get: [],
  update: SETTINGS,
  revoke: ['reason'],
  rotate: ['grace'],
  disable: [],
  enable: [],
};

export const SUBJECT_VERBS = ['set', 'get'] as const;
export type SubjectVerb = (typeof SUBJECT_VERBS)[number];

export type CommandLine =
  | {
      help: boolean;
      group: 'keys';
      verb: Verb;
      /** The key id, for every command but create and list. */
      id: string | undefined;
      values: CliValues;
    }
  | { help: false; group: 'subject-limits'; verb: SubjectVerb; id: string; values: CliValues };

/** Reads `keys <verb> [id] [options]`; throws `UsageError` for anything it cannot run. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed: { values: CliValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [group, verb, id, ...extra] = positionals;
  if (values.help && (group === undefined || group === 'keys')) {
    return { help: true, group: 'keys', verb: 'list', id: undefined, values };
  }
  if (group === 'subject-limits') return subjectLimitsLine(verb, id, extra, values);
  if (group !== 'keys') {
    throw new UsageError(group === undefined ? 'No command given.' : `Unknown command "${group}".`);
  }
  if (!isVerb(verb)) {
    throw new UsageError(verb === undefined ? 'keys needs a command.' : `Unknown keys command "${verb}".`);
  }
  const takesId = verb !== 'create' && verb !== 'list';
  if (takesId && !id) throw new UsageError(`${verb} needs a key id.`);
  const unexpected = takesId ? extra : [id, ...extra].filter((p) => p !== undefined);
  if (unexpected.length > 0) throw new UsageError(`Unexpected argument "${unexpected[0]}".`);
  rejectOptions(values, ACCEPTED[verb], verb);
  if (verb === 'create' && !values.name) throw new UsageError('create needs --name.');
  return { help: false, group: 'keys', verb, id: takesId ? id : undefined, values };
}

/** Reads `subject-limits <set | get> <subject> [options]`. */
function subjectLimitsLine(
  verb: string | undefined,
  subject: string | undefined,
  extra: string[],
  values: CliValues,
): CommandLine {
  if (verb !== 'set' && verb !== 'get') {
    throw new UsageError(
      verb === undefined ? 'subject-limits needs a command.' : `Unknown subject-limits command "${verb}".`,
    );
  }
  if (!subject) throw new UsageError(`subject-limits ${verb} needs a subject.`);
  if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}".`);
  rejectOptions(values, verb === 'set' ? ['rate-limit', 'quota'] : [], `subject-limits ${verb}`);
  if (verb === 'set' && values['rate-limit'] === undefined && values.quota === undefined)
    throw new UsageError('subject-limits set needs --rate-limit or --quota.');
  return { help: false, group: 'subject-limits', verb, id: subject, values };
}

/** A usage error for the first option the command does not take: not ignored. */
function rejectOptions(values: CliValues, accepted: readonly OptionName[], command: string): void {
  const wrong = (Object.keys(values) as OptionName[]).filter(
    (name) =>
      values[name] !== undefined &&
      values[name] !== false &&
      !COMMON.includes(name) &&
      !accepted.includes(name),
  );
  if (wrong.length > 0) throw new UsageError(`--${wrong[0]} does not apply to ${command}.`);
}

function isVerb(value: string | undefined): value is Verb {
  return (VERBS as readonly (string | undefined)[]).includes(value);
}
