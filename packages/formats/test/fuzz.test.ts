// Property-based fuzzing (fast-check). Any input must either parse into a header that satisfies every
// invariant, or fail with ModelFormatError — never another exception, never a hang. Valid tensor sets must
// round-trip. 10,500 cases in this file.
import { fromTyped, type Tensor } from "@llmdbg/tensor";
import { craft, entry } from "@llmdbg/testing/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../src/errors.js";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../src/float16.js";
import {
  decodeSafetensors,
  encodeSafetensors,
  parseSafetensorsHeader,
  type SafetensorsDType,
  type SafetensorsHeader,
  safetensorsDTypeSize,
} from "../src/safetensors.js";

const DTYPES: SafetensorsDType[] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function checkInvariants(h: SafetensorsHeader, fileLength: number): void {
  expect(h.dataStart).toBe(8 + h.headerSize);
  expect(h.dataStart + h.dataSize).toBe(fileLength);
  let pos = 0;
  for (const t of h.tensors) {
    expect(t.name).not.toBe("");
    expect(t.begin).toBe(pos);
    expect(t.end - t.begin).toBe(numel(t.shape) * safetensorsDTypeSize(t.dtype));
    pos = t.end;
  }
  expect(pos).toBe(h.dataSize);
}

/** Parses (and loads every tensor of) `bytes`; returns whether it was accepted. Other exceptions propagate. */
function accepts(bytes: Uint8Array): boolean {
  try {
    const h = parseSafetensorsHeader(bytes, "fuzz");
    checkInvariants(h, bytes.length);
    const st = decodeSafetensors(bytes, "fuzz");
    for (const e of st.entries) {
      try {
        expect(st.load(e.name).shape).toEqual(e.shape);
      } catch (err) {
        // data-level checks (I64 range, BOOL bytes) are the only load failures a valid header allows
        if (!(err instanceof ModelFormatError) || !/(I64|BOOL|element)/.test(err.message)) throw err;
      }
    }
    return true;
  } catch (e) {
    if (e instanceof ModelFormatError) return false;
    throw e;
  }
}

/** Sound files of every dtype to mutate. */
function seeds(): Uint8Array[] {
  const data = (n: number) => new Uint8Array(n).map((_, i) => (i * 37) & 1);
  const all: Record<string, unknown> = { __metadata__: { format: "pt", k: "v" } };
  let at = 0;
  for (const d of DTYPES) {
    const n = 2 * safetensorsDTypeSize(d);
    all[`t.${d}`] = entry(d, [1, 2], at, at + n);
    at += n;
  }
  all.scalar = entry("F32", [], at, at + 4);
  all.empty = entry("F16", [3, 0], at + 4, at + 4);
  return [
    craft(all, data(at + 4)),
    craft({ "h.0.attn.c_attn.weight": entry("F32", [2, 3], 0, 24), "h.0.attn.c_attn.bias": entry("BF16", [3], 24, 30) }, 30),
    craft({}),
    encodeSafetensors({ w: fromTyped(new Float32Array([1, -2, 3, 0.5]), [2, 2], "f32") }, { dtype: "F16", metadata: { a: "b" } }),
  ];
}

describe("fuzzing the parser", () => {
  const files = seeds();

  it("the seed files are accepted", () => {
    for (const f of files) expect(accepts(f)).toBe(true);
  });

  it("4000 random byte mutations, truncations and extensions of valid files", () => {
    const mutation = fc.record({ pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(
        fc.nat(files.length - 1),
        fc.array(mutation, { minLength: 0, maxLength: 6 }),
        fc.oneof(fc.constant(0), fc.integer({ min: -40, max: 40 })),
        (which, muts, resize) => {
          const base = files[which] as Uint8Array;
          const len = Math.max(0, base.length + resize);
          const b = new Uint8Array(len);
          b.set(base.subarray(0, len));
          for (const m of muts) if (len > 0) b[m.pos % len] = m.byte;
          accepts(b);
        },
      ),
      { numRuns: 4000 },
    );
  });

  it("3000 random edits of header text (length prefix kept consistent)", () => {
    const texts = files.map((f) => {
      const h = parseSafetensorsHeader(f, "seed");
      return { text: new TextDecoder().decode(f.subarray(8, h.dataStart)), data: f.subarray(h.dataStart) };
    });
    const char = fc.constantFrom(
      ...'{}[],:"\\ 0123456789-.eE_aFIUBOL'.split(""),
      "\u00e9",
      "\ud800",
      "\\u0000",
      "__metadata__",
      '"F16"',
      "1e400",
      "-1",
    );
    const edit = fc.record({ pos: fc.nat(), kind: fc.constantFrom("replace", "insert", "delete"), s: char });
    fc.assert(
      fc.property(
        fc.nat(texts.length - 1),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -4, max: 4 }),
        (which, edits, dataDelta) => {
          const seed = texts[which] as { text: string; data: Uint8Array };
          let t = seed.text;
          for (const e of edits) {
            const p = e.pos % (t.length + 1);
            t =
              e.kind === "insert"
                ? t.slice(0, p) + e.s + t.slice(p)
                : t.slice(0, p) + (e.kind === "replace" ? e.s : "") + t.slice(p + 1);
          }
          accepts(craft(t, new Uint8Array(Math.max(0, seed.data.length + dataDelta))));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("2000 random structured headers, sound or with one field broken", () => {
    const junk = fc.oneof(
      fc.integer({ min: -3, max: 5 }),
      fc.double(),
      fc.string({ maxLength: 4 }),
      fc.constant(null),
      fc.constant(2 ** 53),
      fc.constant([]),
    );
    const tensorSpec = fc.record({
      name: fc.string({ maxLength: 6 }),
      dtype: fc.constantFrom(...DTYPES),
      shape: fc.array(fc.nat(4), { maxLength: 3 }),
    });
    const breakage = fc.oneof(
      fc.constant({ kind: "none" as const }),
      fc.record({
        kind: fc.constant("field" as const),
        key: fc.constantFrom("dtype", "shape", "data_offsets", "extra"),
        value: junk,
      }),
      fc.record({ kind: fc.constant("shift" as const), by: fc.integer({ min: -8, max: 8 }) }),
      fc.record({ kind: fc.constant("data" as const), by: fc.integer({ min: -8, max: 8 }) }),
      fc.record({ kind: fc.constant("meta" as const), value: fc.jsonValue({ maxDepth: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(tensorSpec, { maxLength: 5 }), fc.nat(), breakage, fc.boolean(), (specs, pick, br, shuffle) => {
        const header: Record<string, unknown> = {};
        let at = 0;
        const order = shuffle ? [...specs].reverse() : specs;
        for (const s of order) {
          if (s.name === "" || s.name === "__metadata__" || s.name in header) continue;
          const n = numel(s.shape) * safetensorsDTypeSize(s.dtype);
          header[s.name] = entry(s.dtype, s.shape, at, at + n);
          at += n;
        }
        let dataSize = at;
        const names = Object.keys(header);
        const victim = names.length > 0 ? (header[names[pick % names.length] as string] as Record<string, unknown>) : null;
        if (br.kind === "field" && victim !== null) victim[br.key] = br.value;
        if (br.kind === "shift" && victim !== null) victim.data_offsets = (victim.data_offsets as number[]).map((o) => o + br.by);
        if (br.kind === "data") dataSize = Math.max(0, dataSize + br.by);
        if (br.kind === "meta") header.__metadata__ = br.value;
        const ok = accepts(craft(header, dataSize));
        if (br.kind === "none") expect(ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("fuzzing round trips", () => {
  type Spec = { dtype: "f32" | "f64" | "i32" | "bool"; shape: number[]; values: number[] };
  const shape = fc.array(fc.nat(4), { maxLength: 3 });
  const spec: fc.Arbitrary<Spec> = fc
    .tuple(fc.constantFrom("f32", "f64", "i32", "bool") as fc.Arbitrary<Spec["dtype"]>, shape)
    .chain(([dtype, sh]) => {
      const n = numel(sh);
      const v =
        dtype === "f32"
          ? fc.float()
          : dtype === "f64"
            ? fc.double()
            : dtype === "i32"
              ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
              : fc.integer({ min: 0, max: 1 });
      return fc.array(v, { minLength: n, maxLength: n }).map((values) => ({ dtype, shape: sh, values }));
    });
  const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((s) => s !== "__metadata__");
  const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

  it("1500 random tensor sets survive encode -> decode in F32, F16 or BF16", () => {
    fc.assert(
      fc.property(
        fc.dictionary(name, spec, { maxKeys: 5 }),
        fc.constantFrom(undefined, "F32", "F16", "BF16"),
        fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ unit: "grapheme", maxLength: 10 }), { maxKeys: 3 }),
        (specs, dtype, metadata) => {
          const tensors: Record<string, Tensor> = {};
          for (const [k, s] of Object.entries(specs)) {
            const arr = { f32: Float32Array, f64: Float64Array, i32: Int32Array, bool: Uint8Array }[s.dtype].from(s.values);
            tensors[k] = fromTyped(arr, s.shape, s.dtype);
          }
          const st = decodeSafetensors(
            encodeSafetensors(tensors, dtype === undefined ? { metadata } : { dtype, metadata }),
            "rt",
          );
          expect({ ...st.metadata }).toEqual({ ...metadata });
          expect(st.entries.map((e) => e.name)).toEqual(Object.keys(tensors).sort());
          for (const [k, t] of Object.entries(tensors)) {
            const back = st.load(k);
            expect(back.shape).toEqual(t.shape);
            const isFloat = t.dtype === "f32" || t.dtype === "f64";
            expect(back.dtype).toBe(isFloat ? (dtype === undefined && t.dtype === "f64" ? "f64" : "f32") : t.dtype);
            const want = t.toArray().map((x) => {
              if (!isFloat) return x;
              if (dtype === "F16") return f16BitsToF32(f32ToF16Bits(x));
              if (dtype === "BF16") return bf16BitsToF32(f32ToBf16Bits(x));
              return dtype === "F32" ? Math.fround(x) : x;
            });
            const got = back.toArray();
            for (let i = 0; i < want.length; i++) if (!same(got[i] as number, want[i] as number)) expect(got[i]).toBe(want[i]);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
