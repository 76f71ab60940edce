// Element types. Codes mirror native/include/gmai/dtype.h.
export type DType =
  | 'float32' | 'bfloat16' | 'float16' | 'int32' | 'int64' | 'uint8'
  | 'float64' | 'int16' | 'int8' | 'bool';

export const dtypeCode: Record<DType, number> = {
  float32: 0, bfloat16: 1, float16: 2, int32: 3, int64: 4, uint8: 5,
  float64: 6, int16: 7, int8: 8, bool: 9,
};

export const dtypeBytes: Record<DType, number> = {
  float32: 4, bfloat16: 2, float16: 2, int32: 4, int64: 8, uint8: 1,
  float64: 8, int16: 2, int8: 1, bool: 1,
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'bfloat16' || d === 'float16' || d === 'float64';
}

/** What `tensor.toArray()` returns for each dtype (bf16/f16 widen to float32). */
export type ArrayFor<D extends DType> = D extends 'float32' | 'bfloat16' | 'float16'
  ? Float32Array
  : D extends 'float64' ? Float64Array
  : D extends 'int32' ? Int32Array
  : D extends 'int64' ? BigInt64Array
  : D extends 'int16' ? Int16Array
  : D extends 'int8' ? Int8Array
  : Uint8Array;

export type TypedArray =
  | Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/** The dtype a typed array naturally holds (Uint16Array is taken as raw bfloat16 bits). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint16Array) return 'bfloat16';
  return 'uint8';
}
