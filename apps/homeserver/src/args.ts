/** A small argv parser: repeated `-c/--config`, `--flag value` / `--flag=value`, and booleans. */
export interface ParsedArgs {
  readonly command: string | undefined;
  readonly configs: string[];
  readonly options: Map<string, string[]>;
  readonly flags: Set<string>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string>): ParsedArgs {
  const configs: string[] = [];
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-c' || arg === '--config-path' || arg === '--config') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a file path`);
      configs.push(v);
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (booleanFlags.has(name) && eq < 0) {
        flags.add(name);
        continue;
      }
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      options.set(name, [...(options.get(name) ?? []), value]);
    } else if (arg.startsWith('-') && arg.length > 1) {
      const short: Record<string, string> = { w: 'worker', f: 'format', h: 'help' };
      const name = short[arg.slice(1)];
      if (!name) throw new UsageError(`unknown option ${arg}`);
      if (name === 'help') {
        flags.add('help');
        continue;
      }
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      options.set(name, [...(options.get(name) ?? []), v]);
    } else if (command === undefined) {
      command = arg;
    } else {
      throw new UsageError(`unexpected argument ${arg}`);
    }
  }
  return { command, configs, options, flags };
}

export function single(args: ParsedArgs, name: string): string | undefined {
  const values = args.options.get(name);
  if (values && values.length > 1) throw new UsageError(`--${name} given more than once`);
  return values?.[0];
}

export function integerOption(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const text = single(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}
