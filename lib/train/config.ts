// Training configs are JSON files validated up front: every key is checked for its type and
// range, with an error that names the file, the key, what was expected and what was given;
// unknown keys are errors too (with a did-you-mean), since a misspelt key silently ignored
// would train with a default nobody chose.
import { readFileSync } from 'node:fs';
import { didYouMean } from '../text/did-you-mean.js';

export type Rule =
  | { type: 'string'; required?: boolean; default?: string }
  | { type: 'number'; required?: boolean; default?: number; min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean }
  | { type: 'boolean'; required?: boolean; default?: boolean }
  | { type: 'enum'; values: readonly string[]; required?: boolean; default?: string }
  | { type: 'object'; rules: Schema; required?: boolean; nullable?: boolean }
  | { type: 'strings'; required?: boolean; default?: string[] };
export type Schema = Record<string, Rule>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describe(r: Rule): string {
  switch (r.type) {
    case 'number': {
      const lo = r.min === undefined ? '' : ` ${r.exclusiveMin ? '>' : '≥'} ${r.min}`;
      const hi = r.max === undefined ? '' : `${lo ? ' and' : ''} ≤ ${r.max}`;
      return `${r.integer ? 'an integer' : 'a number'}${lo}${hi}`;
    }
    case 'enum': return `one of ${r.values.map((v) => `'${v}'`).join(', ')}`;
    case 'object': return 'an object';
    case 'strings': return 'an array of strings';
    default: return `a ${r.type}`;
  }
}

function checkValue(v: unknown, r: Rule, key: string, where: string): unknown {
  const bad = () => new ConfigError(`${where}: '${key}' must be ${describe(r)}, got ${JSON.stringify(v)}`);
  switch (r.type) {
    case 'string': if (typeof v !== 'string' || v === '') throw bad(); return v;
    case 'boolean': if (typeof v !== 'boolean') throw bad(); return v;
    case 'enum': if (typeof v !== 'string' || !r.values.includes(v)) throw bad(); return v;
    case 'strings': if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(); return v;
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v) || (r.integer && !Number.isInteger(v))) throw bad();
      if (r.min !== undefined && (r.exclusiveMin ? v <= r.min : v < r.min)) throw bad();
      if (r.max !== undefined && v > r.max) throw bad();
      return v;
    }
    case 'object':
      if (v === null && r.nullable) return null;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad();
      return validate(v as Record<string, unknown>, r.rules, where, `${key}.`);
  }
}

/** Checks `raw` against `schema`, filling defaults; `where` names the source (a file). */
export function validate<T>(raw: Record<string, unknown>, schema: Schema, where: string, prefix = ''): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key in schema) continue;
    throw new ConfigError(`${where}: unknown key '${prefix}${key}'${didYouMean(key, Object.keys(schema), prefix)}`);
  }
  for (const [key, rule] of Object.entries(schema)) {
    const v = raw[key];
    if (v === undefined) {
      if (rule.required) throw new ConfigError(`${where}: '${prefix}${key}' is required (${describe(rule)})`);
      if ('default' in rule && rule.default !== undefined) out[key] = rule.default;
      continue;
    }
    out[key] = checkValue(v, rule, prefix + key, where);
  }
  return out as T;
}

/** Reads and validates a JSON config file. */
export function readConfigFile<T>(file: string, schema: Schema): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config ${file} must hold a JSON object`);
  return validate<T>(raw as Record<string, unknown>, schema, `config ${file}`);
}
