// Sanity check of a golden file written by a tools/reference/*.py script: prints each tensor's shape, checks that
// every logit is finite and that every attention pattern row sums to 1 (for causal models, with nothing above the
// diagonal; encoder goldens say `causal: "false"` in their metadata).
// Usage: npx tsx tools/reference/check-golden.ts [packages/models/test/golden/gpt2-tiny.safetensors]
import { readSafetensors } from "@llmdbg/formats";

const path = process.argv[2] ?? "packages/models/test/golden/gpt2-tiny.safetensors";
const st = readSafetensors(path);
let failures = 0;
const fail = (msg: string) => {
  failures++;
  console.error(`FAIL ${msg}`);
};

console.log("metadata:", JSON.stringify(st.metadata));
for (const e of st.entries) console.log(`${e.name.padEnd(34)} ${e.dtype} [${e.shape.join(", ")}]`);

const causal = st.metadata.causal !== "false";
const logits = st.load("logits").data;
if (!Array.from(logits).every(Number.isFinite)) fail("logits not all finite");

for (const e of st.entries.filter((x) => x.name.endsWith("hook_pattern"))) {
  const d = st.load(e.name).data;
  const t = e.shape[e.shape.length - 1] as number;
  let worst = 0;
  for (let row = 0; row * t < d.length; row++) {
    const q = row % t; // query position
    let s = 0;
    for (let k = 0; k < t; k++) {
      const v = d[row * t + k] as number;
      if (causal && k > q && v !== 0) fail(`${e.name}: row ${row} attends to future key ${k}`);
      s += v;
    }
    worst = Math.max(worst, Math.abs(s - 1));
  }
  console.log(`${e.name}: max |row sum - 1| = ${worst.toExponential(2)}`);
  if (worst > 1e-5) fail(`${e.name}: rows do not sum to 1`);
}
console.log(`loss = ${String(st.load("loss").data[0])}`);
console.log(failures === 0 ? "OK" : `${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
