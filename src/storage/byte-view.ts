/**
 * A view of bytes [start, end) of `bytes` without `TypedArray.prototype.subarray`, whose species
 * lookup costs ~400 ns per call in V8 — more than copying the 1 KiB entry the view is for.
 * Used on every per-entry path (staging, checksums, read answers).
 */
export function byteView(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}
