import type { SubjectLimitsService } from '../keys/subject-limits.service.js';
import type { SubjectLimitsInput, SubjectLimitsView } from '../keys/subject-limits.types.js';
import { UsageError, type CommandLine } from './cli.arguments.js';
import type { CommandResult } from './keys.commands.js';

/** Runs one `subject-limits` command against the app's own `SubjectLimitsService`. */
export async function runSubjectLimitsCommand(
  owners: SubjectLimitsService,
  line: Extract<CommandLine, { group: 'subject-limits' }>,
): Promise<CommandResult> {
  if (line.verb === 'get') {
    const limits = await owners.getSubjectLimits(line.id);
    return { value: limits, text: limitsText(limits) };
  }
  const limits = await owners.setSubjectLimits(line.id, limitsOf(line.values));
  return { value: limits, text: `Set the limits of ${limits.subject}.\n\n${limitsText(limits)}` };
}

/**
 * `--rate-limit 100/1m | none` and `--quota 10000/30d | 500 | none` in the service's terms. Only the shape is
 * checked here; the service checks the values, so the CLI and the API refuse alike.
 */
function limitsOf(values: CommandLine['values']): SubjectLimitsInput {
  const input: SubjectLimitsInput = {};
  const given = values['rate-limit'];
  const rates = given === undefined ? [] : Array.isArray(given) ? given : [given];
  if (rates.length > 1) throw new UsageError('An owner has one rate limit: give --rate-limit once.');
  const rateLimit = rates[0];
  if (typeof rateLimit === 'string') {
    const pair = rateLimit === 'none' ? null : pairOf('rate-limit', rateLimit, '100/1m');
    input.rateLimit = pair && { limit: pair[0], window: pair[1] };
  }
  const quota = values.quota;
  if (typeof quota === 'string') {
    if (quota === 'none') Object.assign(input, { remaining: null, quotaRefill: null });
    else if (/^\d+$/.test(quota)) Object.assign(input, { remaining: Number(quota), quotaRefill: null });
    else {
      const [amount, interval] = pairOf('quota', quota, '10000/30d');
      input.quotaRefill = { amount, interval };
    }
  }
  return input;
}

function pairOf(name: string, text: string, example: string): [number, string | number] {
  const match = /^(\d+)\/(\S+)$/.exec(text);
  if (!match) throw new UsageError(`--${name} must be <count>/<duration>, such as ${example}, or none.`);
  return [Number(match[1]), /^\d+$/.test(match[2]) ? Number(match[2]) : match[2]];
}

function limitsText(limits: SubjectLimitsView): string {
  const rows: [string, string][] = [
    ['subject', limits.subject],
    [
      'rate limit',
      limits.rateLimit ? `${limits.rateLimit.limit}/${limits.rateLimit.windowSeconds}s` : 'none',
    ],
    ['remaining', limits.remaining === null ? 'no quota' : String(limits.remaining)],
    [
      'quota refill',
      limits.quotaRefill ? `${limits.quotaRefill.amount}/${limits.quotaRefill.intervalSeconds}s` : '-',
    ],
  ];
  return rows.map(([name, value]) => `${name.padEnd(14)}${value}`).join('\n');
}
