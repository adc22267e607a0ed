// Node entry: everything in index.ts plus safetensors and GGUF files on disk.
export { type GgufReader, openGguf, writeGguf } from "./gguf-node.js";
export * from "./index.js";
export {
  type ReadOptions,
  readSafetensors,
  readShardedSafetensors,
  SHARD_INDEX,
  type ShardedSafetensorsReader,
  writeSafetensors,
} from "./safetensors-node.js";
