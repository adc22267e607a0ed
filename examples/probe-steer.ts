// A linear probe for a label at every layer, and its direction used as a steering vector. `npx tsx
// examples/probe-steer.ts [model]` prints the probe curve; the test suite type-checks it and runs it.
import { probe, steer } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { ProbeResult, SteerResult } from "@llmdbg/protocol";

export function probeSteerExample(path = "models/tiny-gpt2"): { probes: ProbeResult; steered: SteerResult } {
  // --- example start
  const model = load(path);
  const dataset = ["a fine day", "a good meal", "a nice walk", "a bad day", "a poor meal", "a sad walk"].map((text, i) => ({
    input: { text },
    label: i < 3 ? "positive" : "negative",
  }));
  const probes = probe(model, { kind: "probe", hooks: "blocks.*.hook_resid_post", dataset, validation: 0.34 });
  const positive = probes.best.directions[probes.labels.indexOf("positive")] ?? [];
  const steered = steer(model, {
    kind: "steer",
    input: { text: "it was a" },
    hook: probes.best.hook,
    vector: { values: positive },
    coeff: 4,
  });
  // probes.probes[i]: accuracy per layer and its control; steered.before / .after: predictions without and with
  // --- example end
  return { probes, steered };
}

if (process.argv[1]?.endsWith("probe-steer.ts")) {
  const { probes, steered } = probeSteerExample(process.argv[2]);
  for (const p of probes.probes)
    console.log(`${p.hook}: ${(100 * p.validationAccuracy).toFixed(0)}% (control ${(100 * p.controlAccuracy).toFixed(0)}%)`);
  console.log(`KL with the vector: ${steered.kl.toFixed(4)}`);
}
