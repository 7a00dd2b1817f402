/**
 * latents.bin: float32, little-endian, row-major [count, dim]. Explicit about byte order (a DataView
 * on big-endian hosts) so the file means the same everywhere, and strict about sizes on decode.
 */
const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeLatents(table: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(table.buffer.slice(table.byteOffset, table.byteOffset + table.byteLength));
  const out = new Uint8Array(table.length * 4);
  const view = new DataView(out.buffer);
  table.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

export function decodeLatents(bytes: Uint8Array, count: number, dim: number): Float32Array {
  const expected = count * dim * 4;
  if (bytes.byteLength !== expected) {
    throw new Error(`latents.bin has ${bytes.byteLength} bytes; the manifest's ${count} x ${dim} float32 codes need ${expected}.`);
  }
  const out = new Float32Array(count * dim);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
