/**
 * Sorts a Float32Array ascending in place, in the same order as Float32Array.prototype.sort (-Infinity ...
 * -0 before +0 ... +Infinity; NaNs last), by an LSD radix sort on the floats' bits: three passes of 11
 * bits, 2.6x faster than the built-in comparison sort on the 131,072-value columns of the sliced
 * Wasserstein distance, where sorting was most of `glo eval`'s SWD time.
 */
export function sortFloat32(values: Float32Array<ArrayBufferLike>, scratch: Float32Array<ArrayBufferLike> = new Float32Array(values.length)): void {
  const n = values.length;
  if (n < 2) return;
  // Map each float's bits to an unsigned key whose integer order is the float order: flip every bit of
  // negatives, only the sign bit of positives. NaNs (any payload) become the largest keys.
  const keys = new Uint32Array(values.buffer, values.byteOffset, n);
  // One pass maps the keys and counts all three digits; then one scatter pass per digit.
  const counts = new Uint32Array(3 * 2048);
  for (let i = 0; i < n; i++) {
    const bits = keys[i];
    const key = bits > 0xff800000 || (bits > 0x7f800000 && bits < 0x80000000) ? 0xffffffff : bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[i] = key;
    counts[key & 0x7ff]++;
    counts[2048 + ((key >>> 11) & 0x7ff)]++;
    counts[4096 + (key >>> 22)]++;
  }
  for (let digit = 0; digit < 3; digit++) {
    let sum = 0;
    for (let d = digit * 2048, end = d + 2048; d < end; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
  }
  let from: Uint32Array = keys;
  let to: Uint32Array = new Uint32Array(scratch.buffer, scratch.byteOffset, n);
  for (let digit = 0; digit < 3; digit++) {
    const shift = 11 * digit;
    const base = 2048 * digit;
    for (let i = 0; i < n; i++) {
      const key = from[i];
      to[counts[base + ((key >>> shift) & 0x7ff)]++] = key;
    }
    [from, to] = [to, from];
  }
  // Three passes leave the sorted keys in the scratch buffer: copy them back, then undo the mapping.
  if (from !== keys) keys.set(from);
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    keys[i] = key === 0xffffffff ? 0x7fc00000 : key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
  }
}
