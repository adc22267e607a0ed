// Node entry: everything in index.ts plus the onnxruntime-node backend, registered here as "ort" (the default
// backend under Node) and exported for its statistics and options.
import { registerOrtLoader } from "./backend.js";
import { setRawAllocator } from "./dtype.js";
import { OrtBackend } from "./ort/backend.js";

// Uninitialized, unpooled buffers: each is its own ArrayBuffer, so the ort backend can transfer it.
setRawAllocator((bytes) => Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer);

let shared: OrtBackend | null = null;
registerOrtLoader(() => {
  shared ??= new OrtBackend();
  return shared;
});

export * from "./index.js";
export { OrtBackend, type OrtOptions, type OrtStats, type Resident } from "./ort/backend.js";
