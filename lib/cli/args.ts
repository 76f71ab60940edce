// A small argument parser: `--name value`, `--flag`, repeated options collected in arrays.
export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
}

export function parseArgs(argv: string[], flags: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (flags.includes(name)) value = 'true';
    else {
      if (i + 1 >= argv.length) throw new Error(`option --${name} needs a value`);
      value = argv[++i];
    }
    options.set(name, [...(options.get(name) ?? []), value]);
  }
  return { positional, options };
}

export function option(args: ParsedArgs, name: string): string | undefined {
  return args.options.get(name)?.at(-1);
}

export function numberOption(args: ParsedArgs, name: string, fallback: number): number {
  const v = option(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`option --${name} must be a number, got '${v}'`);
  return n;
}
