// Sharded checkpoints: `model.safetensors.index.json` = { metadata?: {...}, weight_map: {
// tensor name: shard file name } }. Shards are opened on first use and closed together.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';

import type { Tensor } from '../tensor.js';
import { SafetensorsError, setOwn } from './safetensors-header.js';
import type { SafetensorsReader, TensorInfo } from './safetensors.js';

type OpenShard = (path: string) => SafetensorsReader;

export function openSafetensorsIndex(indexPath: string, openShard: OpenShard): SafetensorsReader {
  return new ShardedSafetensors(indexPath, readIndex(indexPath), openShard);
}

export interface ParsedIndex {
  metadata: Record<string, string>;
  /** tensor name → shard file name as written in the index */
  weightMap: Map<string, string>;
}

/** Reads and checks a `*.safetensors.index.json` (shard names stay inside its folder). */
export function readIndex(indexPath: string): ParsedIndex {
  const fail = (why: string, tensor?: string): never => { throw new SafetensorsError(indexPath, why, tensor); };
  let text = '';
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (e) {
    fail(`cannot read the index: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`index is not valid JSON (${(e as Error).message})`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(json)) return fail('index JSON is not an object');
  if (!isObject(json.weight_map)) return fail('index has no "weight_map" object');
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || shard === '') fail(`weight_map entry for '${name}' is not a file name`, name);
    const s = shard as string;
    // Shards live next to the index: refuse paths that leave its folder.
    if (isAbsolute(s) || normalize(s).split(sep).includes('..')) {
      fail(`weight_map entry for '${name}' (${s}) points outside the index's folder`, name);
    }
    weightMap.set(name, s);
  }
  // HF writes numbers here (total_size); keep every scalar, as a string.
  const metadata: Record<string, string> = {};
  if (json.metadata !== undefined && json.metadata !== null) {
    if (!isObject(json.metadata)) fail('index "metadata" is not an object');
    for (const [k, v] of Object.entries(json.metadata as object)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') setOwn(metadata, k, String(v));
    }
  }
  return { metadata, weightMap };
}

class ShardedSafetensors implements SafetensorsReader {
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly #weightMap: Map<string, string>;
  readonly #shards = new Map<string, SafetensorsReader>();
  readonly #openShard: OpenShard;
  #closed = false;

  constructor(path: string, index: ParsedIndex, openShard: OpenShard) {
    this.path = path;
    this.metadata = index.metadata;
    this.#weightMap = index.weightMap;
    this.#openShard = openShard;
  }

  keys(): string[] {
    return [...this.#weightMap.keys()].sort();
  }

  has(name: string): boolean {
    return this.#weightMap.has(name);
  }

  info(name: string): TensorInfo {
    return this.#shardFor(name).info(name);
  }

  get(name: string): Tensor {
    return this.#shardFor(name).get(name);
  }

  close(): void {
    for (const s of this.#shards.values()) s.close();
    this.#shards.clear();
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #shardFor(name: string): SafetensorsReader {
    const shardName = this.#weightMap.get(name);
    if (shardName === undefined) {
      throw new SafetensorsError(this.path, `no tensor named '${name}' in the index's weight_map (it has ${this.#weightMap.size})`, name);
    }
    if (this.#closed) throw new SafetensorsError(this.path, `cannot read tensor '${name}': the index was closed`, name);
    let shard = this.#shards.get(shardName);
    if (!shard) {
      shard = this.#open(shardName, name);
      this.#shards.set(shardName, shard);
    }
    if (!shard.has(name)) {
      throw new SafetensorsError(this.path, `the index puts tensor '${name}' in shard ${shardName}, but that shard has no such tensor`, name);
    }
    return shard;
  }

  #open(shardName: string, tensor: string): SafetensorsReader {
    const shardPath = join(dirname(this.path), shardName);
    const where = `the index puts tensor '${tensor}' in shard ${shardName} (${shardPath})`;
    if (!existsSync(shardPath)) throw new SafetensorsError(this.path, `${where}, which does not exist`, tensor);
    try {
      return this.#openShard(shardPath);
    } catch (e) {
      throw new SafetensorsError(this.path, `${where}, which cannot be opened: ${(e as Error).message}`, tensor, { cause: e });
    }
  }
}
