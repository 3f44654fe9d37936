/**
 * Everything wrong with a configuration, reported at once: an operator fixing a config file should see
 * every problem in one run, not one per restart. Each problem is one line naming the key path.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], header?: string) {
    const list = problems.length > 0 ? problems : ['invalid configuration'];
    super(header ? `${header}\n${list.map((p) => `  ${p}`).join('\n')}` : list.join('\n'));
    this.name = 'ConfigError';
    this.problems = list;
  }
}
