// Where telemetry goes. The trainer emits each event to one sink as it happens; a sink decides what to keep
// (memory for tests and the UI's live view, a JSONL file on Node in sinks-node.ts).
import type { TrainEvent } from "@llmdbg/protocol";

export interface TelemetrySink {
  emit(event: TrainEvent): void;
  /** Flushes and releases what the sink holds; the trainer calls it once, when the run ends. */
  close(): void | Promise<void>;
}

/**
 * Keeps every event in order.
 * @example const sink = new MemorySink(); await train(model, data, config, { sink }); sink.of("step").map((e) => e.loss)
 */
export class MemorySink implements TelemetrySink {
  readonly events: TrainEvent[] = [];
  closed = false;

  emit(event: TrainEvent): void {
    this.events.push(event);
  }

  close(): void {
    this.closed = true;
  }

  /** The events of one kind, typed. */
  of<K extends TrainEvent["kind"]>(kind: K): Extract<TrainEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<TrainEvent, { kind: K }> => e.kind === kind);
  }
}
