// Node entry: everything in index.ts plus the onnxruntime-node backend (registered as "ort").
import { setRawAllocator } from "./dtype.js";

// Uninitialized, unpooled buffers: each is its own ArrayBuffer, so the ort backend can transfer it.
setRawAllocator((bytes) => Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer);

export * from "./index.js";
export { OrtBackend, type OrtOptions, type OrtStats, type Resident } from "./ort/backend.js";
