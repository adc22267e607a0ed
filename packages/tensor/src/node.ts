// Node entry: everything in index.ts plus the onnxruntime-node backend (registered as "ort").
export * from "./index.js";
export { OrtBackend, type OrtOptions } from "./ort/backend.js";
