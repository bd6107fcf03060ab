/**
 * Thrown at boot when the module options cannot work; the message lists what to change. It is not an HTTP
 * exception: it never answers a request, it stops the app from starting.
 */
export class InvalidOptionsError extends Error {
  static readonly code = 'invalid_options' as const;
  readonly code = InvalidOptionsError.code;
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`ApiKeyModule options are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidOptionsError';
    this.problems = [...problems];
  }
}
