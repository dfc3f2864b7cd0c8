/**
 * Raised with every problem in the environment at once, one per line. A module of its own, free
 * of zod, so the CLI can tell it apart without loading the configuration schema.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
