// A JSONL telemetry log: one TrainEvent per line, written synchronously as it is emitted, so a crash loses at
// most the event being written and another process can tail the file while the run goes on.
import { closeSync, openSync, writeSync } from "node:fs";
import type { TrainEvent } from "@llmdbg/protocol";
import type { TelemetrySink } from "./sinks.js";

/**
 * Appends each event to `path` as one JSON line (the file is created, or appended to when it exists).
 * @example await train(model, data, config, { sink: new JsonlSink("run/events.jsonl") })
 */
export class JsonlSink implements TelemetrySink {
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, "a");
  }

  emit(event: TrainEvent): void {
    if (this.fd === null) throw new Error(`JsonlSink: ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
