// The attention view's patterns, kept between requests in one worker thread: the `attention_overview` job leaves
// every layer's patterns of its input here (sqrt8 bytes, heads × positions² per layer: 151 MB at 12 × 12 × 1,024)
// and the `attention_head` jobs that follow on the same input copy a head out instead of running the model again
// (a forward pass up to the layer: seconds at 1,024 tokens). The trade-off: memory held after the job, bounded by
// `maxBytes` across models, the newest input per model only; an input not kept (evicted, another thread, another
// prompt) is simply computed again, so the shelf changes speed, never results.
import type { PatternShelf } from "@llmdbg/methods";

/** 512 MiB: the patterns of three 12 × 12 models at 1,024 tokens. */
export const SHELF_BYTES = 512 * 2 ** 20;

interface Entry {
  readonly key: string;
  readonly layers: Map<number, Uint8Array>;
  bytes: number;
}

export class PatternShelves {
  /** by model id, least recently written first */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxBytes = SHELF_BYTES) {}

  /** The shelf of one model's patterns. */
  of(model: string): PatternShelf {
    return {
      put: (ids, layer, bytes) => this.put(model, ids, layer, bytes),
      get: (ids, layer) => {
        const e = this.entries.get(model);
        return e !== undefined && e.key === keyOf(ids) ? e.layers.get(layer) : undefined;
      },
    };
  }

  /** Bytes held, all models together. */
  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  private put(model: string, ids: readonly number[], layer: number, bytes: Uint8Array): void {
    if (bytes.length > this.maxBytes) return;
    const key = keyOf(ids);
    let e = this.entries.get(model);
    if (e === undefined || e.key !== key) {
      // a new input replaces the model's previous one
      this.entries.delete(model);
      e = { key, layers: new Map(), bytes: 0 };
    } else this.entries.delete(model); // re-inserted below: most recently written last
    this.entries.set(model, e);
    e.bytes += bytes.length - (e.layers.get(layer)?.length ?? 0);
    e.layers.set(layer, bytes);
    // over the budget: the other models' inputs go first, oldest first, then this one's (its layers are useless
    // without the rest, so it is dropped whole)
    for (const [id, other] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      if (other === e) break;
    }
  }
}

const keyOf = (ids: readonly number[]): string => ids.join(",");
