// Packing numeric columns for the wire: base64 of little-endian Float32 or Int32 arrays. A projection of 100,000
// points is six such columns (about 4 MB of JSON); as an array of objects it would be several times that, and
// slow to parse in the browser. No Buffer (this package also runs in browsers and workers).

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 (with `=` padding) of `bytes`. */
export function base64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  const code = (i: number) => ALPHABET.charCodeAt(i);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = code(v >> 18);
    out[o++] = code((v >> 12) & 63);
    out[o++] = code((v >> 6) & 63);
    out[o++] = code(v & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const v = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = code(v >> 18);
    out[o++] = code((v >> 12) & 63);
    out[o++] = rest === 2 ? code((v >> 6) & 63) : 61;
    out[o++] = 61; // "="
  }
  let s = "";
  for (let k = 0; k < out.length; k += 0x8000) s += String.fromCharCode(...out.subarray(k, k + 0x8000));
  return s;
}

/** `values` as little-endian float32, base64. */
export function packFloat32(values: ArrayLike<number>): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return base64(new Uint8Array(view.buffer));
}

/** `values` (integers) as little-endian int32, base64. */
export function packInt32(values: ArrayLike<number>): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i] as number, true);
  return base64(new Uint8Array(view.buffer));
}
