// Command-line options of one `gmai` command, parsed with Node's util.parseArgs. Every command
// gets `--help`/`-h` (its usage, exit 0); an unknown option is an error with a did-you-mean;
// numbers are checked here, before any model loads.
import { parseArgs } from 'node:util';
import { didYouMean } from '../text/did-you-mean.js';

export { didYouMean };

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in the usage (`--model DIR`). */
  value?: string;
  description: string;
}

export interface CommandSpec {
  /** As typed after `gmai` (`infer`, `bench serve`). */
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** Options that must be given. */
  required?: string[];
  /** Text after the options (notes, examples). */
  notes?: string;
}

/** A mistake on the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type ParsedOptions = Record<string, string | boolean | string[] | undefined>;

export function usageText(spec: CommandSpec): string {
  const req = new Set(spec.required ?? []);
  const synopsis = Object.entries(spec.options).map(([name, o]) => {
    const s = `--${name}${o.value ? ` ${o.value}` : ''}${o.multiple ? ' ...' : ''}`;
    return req.has(name) ? s : `[${s}]`;
  });
  const width = Math.max(...Object.entries(spec.options).map(([n, o]) => n.length + (o.value ? o.value.length + 1 : 0)), 4) + 4;
  const lines = Object.entries(spec.options).map(([name, o]) =>
    `  ${o.short ? `-${o.short}, ` : '    '}--${`${name}${o.value ? ` ${o.value}` : ''}`.padEnd(width)} ${o.description}`);
  lines.push(`  -h, --${'help'.padEnd(width)} this text`);
  return `usage: gmai ${spec.name} ${synopsis.join(' ')}\n\n${spec.summary}\n\noptions:\n${lines.join('\n')}\n${spec.notes ? `\n${spec.notes}\n` : ''}`;
}

/**
 * Parses `argv` for `spec`. Returns null when help was asked for (the usage is printed on
 * stdout); throws UsageError for unknown options, missing values and missing required options.
 */
export function parseCommand(spec: CommandSpec, argv: string[], out: NodeJS.WritableStream = process.stdout): ParsedOptions | null {
  if (argv.includes('--help') || argv.includes('-h')) { out.write(usageText(spec)); return null; }
  const options = Object.fromEntries(Object.entries(spec.options).map(([name, o]) =>
    [name, { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) }]));
  let values: ParsedOptions, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as { values: ParsedOptions; positionals: string[] });
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /Unknown option '(-{1,2})([^'=]+)/.exec(err.message);
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      throw new UsageError(`unknown option ${unknown[1]}${unknown[2]}${didYouMean(unknown[2], Object.keys(spec.options), '--')}`, spec.name);
    }
    const missing = /Option '(?:-\w, )?(--[\w-]+)/.exec(err.message);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && missing) throw new UsageError(`option ${missing[1]} needs a value`, spec.name);
    throw new UsageError(err.message, spec.name);
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`, spec.name);
  for (const name of spec.required ?? []) if (values[name] === undefined) throw new UsageError(`option --${name} is required`, spec.name);
  return values;
}

export function stringOption(values: ParsedOptions, name: string): string | undefined {
  const v = values[name];
  return Array.isArray(v) ? v.at(-1) : typeof v === 'string' ? v : undefined;
}

/** A number option within [min, max] (integers when `integer`), or `fallback` when absent. */
export interface NumberCheck { integer?: boolean; min?: number; max?: number }
export function numberOption(values: ParsedOptions, name: string, fallback: number, check?: NumberCheck): number;
export function numberOption(values: ParsedOptions, name: string, fallback: undefined, check?: NumberCheck): number | undefined;
export function numberOption(values: ParsedOptions, name: string, fallback: number | undefined, check: NumberCheck = {}): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return fallback;
  const n = v.trim() === '' ? NaN : Number(v);
  const kind = check.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(n) || (check.integer && !Number.isInteger(n))) throw new UsageError(`option --${name} must be ${kind}, got '${v}'`, '');
  if (check.min !== undefined && n < check.min) throw new UsageError(`option --${name} must be at least ${check.min}, got ${n}`, '');
  if (check.max !== undefined && n > check.max) throw new UsageError(`option --${name} must be at most ${check.max}, got ${n}`, '');
  return n;
}
