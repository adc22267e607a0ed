// Mutation checks: each entry below is a small, plausible bug (a norm epsilon dropped, a GELU constant, a rotary
// base, the causal mask shifted by one, heads permuted, a gradient rule swapped, …). The script copies the
// repository to a scratch folder (node_modules hard-linked, so the workspace links resolve inside the copy),
// checks that the tests pass there unmutated, then applies one mutation at a time and runs the tests that
// should notice it. A mutation is killed when at least one *test* fails — a file that no longer loads does
// not count, so a mutation that breaks the syntax cannot pass as killed. Prints a table and the score; exits
// 1 if any mutation survives.
//
//   npm run mutants                 # every mutation
//   npm run mutants -- gelu rotary  # those whose id contains one of these words
//   npm run mutants -- -v norm-eps  # -v lists every failing test, not just the first
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const repo = new URL("..", import.meta.url).pathname;

const tensorTests = [
  "packages/tensor/test/grad.test.ts",
  "packages/tensor/test/errors.test.ts",
  "packages/tensor/test/attention_backend.test.ts",
];
const coreTests = ["packages/core/test"];
const arch = (name) => `packages/models/test/${name}.test.ts`;
const allArch = ["gpt2", "llama", "gpt-neox", "bert"].map(arch);

/**
 * id, what the bug is, the file, the exact text it replaces (must occur once), and the tests to run. Each
 * targets code the goldens, gradient checks or equivalences are meant to guard.
 */
export const mutations = [
  // ---- @llmdbg/tensor
  {
    id: "tensor-gelu-constant",
    what: "tanh-GELU cubic coefficient 0.044715 → 0.0447 in the forward kernel",
    file: "packages/tensor/src/fused.ts",
    find: "O[i] = v / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));",
    replace: "O[i] = v / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.0447 * v * v * v)));",
    tests: [...tensorTests, arch("gpt2")],
  },
  {
    id: "tensor-gelu-grad",
    what: "tanh-GELU derivative: 3·0.044715 → 0.044715 (the chain rule's factor 3 dropped)",
    file: "packages/tensor/src/fused.ts",
    find: "(1 + 3 * 0.044715 * v * v)",
    replace: "(1 + 0.044715 * v * v)",
    tests: tensorTests,
  },
  {
    id: "tensor-mul-vjp",
    what: "the gradient of a·b w.r.t. a uses a instead of b",
    file: "packages/tensor/src/vjp.ts",
    find: "needs(n, 0) ? sumTo(mul(g, inp(n, 1)), inp(n, 0).shape) : null,",
    replace: "needs(n, 0) ? sumTo(mul(g, inp(n, 0)), inp(n, 0).shape) : null,",
    tests: tensorTests,
  },
  {
    id: "tensor-div-vjp",
    what: "the gradient of a/b w.r.t. b loses its minus sign",
    file: "packages/tensor/src/vjp.ts",
    find: "sumTo(neg(mul(g, div(n.out, inp(n, 1)))), inp(n, 1).shape)",
    replace: "sumTo(mul(g, div(n.out, inp(n, 1))), inp(n, 1).shape)",
    tests: tensorTests,
  },
  {
    id: "tensor-cast-vjp",
    what: "the gradient through a cast keeps the cotangent's dtype instead of the input's",
    file: "packages/tensor/src/vjp.ts",
    find: "isFloat(g.dtype) ? cast(g, inp(n, 0).dtype) : null",
    replace: "isFloat(g.dtype) ? g : null",
    tests: tensorTests,
  },
  {
    id: "tensor-attention-causal",
    what: "fused attention's causal limit shifted by one (each query also reads the next key)",
    file: "packages/tensor/src/fused.ts",
    find: "const lim = causal ? Math.min(S, t + off + 1) : S;",
    replace: "const lim = causal ? Math.min(S, t + off + 2) : S;",
    tests: tensorTests,
  },
  {
    id: "tensor-layernorm-eps",
    what: "the fused LayerNorm kernel (the models' path when no norm hook is observed) drops its epsilon",
    file: "packages/tensor/src/fused.ts",
    find: "const rs = 1 / Math.sqrt((v0 + v1 + v2 + v3) / D + eps);",
    replace: "const rs = 1 / Math.sqrt((v0 + v1 + v2 + v3) / D);",
    tests: [...tensorTests, arch("gpt2")],
  },
  {
    id: "tensor-attention-mask",
    what: "the fused attention kernel ignores its additive mask (causal and padding bias of the models' fast path)",
    file: "packages/tensor/src/fused.ts",
    find: "if (M) val += M[mrow + s * m3] as number;",
    replace: "if (M) val += 0;",
    tests: [...tensorTests, arch("gpt2")],
  },
  {
    id: "tensor-softmax-max",
    what: "fused attention: the running max starts at 0 instead of −∞ (wrong for all-negative rows)",
    file: "packages/tensor/src/fused.ts",
    find: "        let mx = Number.NEGATIVE_INFINITY;\n        for (let s = 0; s < lim; s++) {",
    replace: "        let mx = 0;\n        for (let s = 0; s < lim; s++) {",
    tests: tensorTests,
  },
  // ---- @llmdbg/core
  {
    id: "core-causal-mask",
    what: "attentionBias: the causal mask shifted by one (query i reads key i + 1)",
    file: "packages/core/src/forward.ts",
    find: "(!o.causal || j <= qa)",
    replace: "(!o.causal || j <= qa + 1)",
    tests: [...coreTests, ...allArch],
  },
  {
    id: "core-position-ids",
    what: "position ids start at 1 after the cached positions (off by one with a KV cache or padding)",
    file: "packages/core/src/forward.ts",
    find: "if (j >= o.past) out[b * o.queries + j - o.past] = real ? seen : 1;",
    replace: "if (j >= o.past) out[b * o.queries + j - o.past] = real ? seen + 1 : 1;",
    tests: [...coreTests, ...allArch],
  },
  {
    id: "core-intervention-heads",
    what: "intervention masks ignore the head stride (ablating head 1 hits the wrong cells)",
    file: "packages/core/src/interventions.ts",
    find: "for (const i of pick[1]) rec(k + 1, off + i * (strides[pick[0]] as number));",
    replace: "for (const i of pick[1]) rec(k + 1, off + i);",
    tests: coreTests,
  },
  // ---- the shared architecture pieces and each architecture
  {
    id: "models-shared-input-bias",
    what: "projections that share an input (q/k/v) all get the first one's bias",
    file: "packages/models/src/arch/common.ts",
    find: "const b = (ls[i] as Linear).bias;",
    replace: "const b = (ls[0] as Linear).bias;",
    tests: [arch("bert"), arch("llama")],
  },
  {
    id: "models-norm-eps",
    what: "the shared LayerNorm/RMSNorm drops its epsilon",
    file: "packages/models/src/arch/common.ts",
    find: "T.sqrt(T.add(T.mean(T.mul(xc, xc), -1, true), kind.eps))",
    replace: "T.sqrt(T.mean(T.mul(xc, xc), -1, true))",
    tests: allArch,
  },
  {
    id: "models-norm-eps-x3",
    what: "the shared norm's epsilon tripled (a config read with the wrong default)",
    file: "packages/models/src/arch/common.ts",
    find: "T.sqrt(T.add(T.mean(T.mul(xc, xc), -1, true), kind.eps))",
    replace: "T.sqrt(T.add(T.mean(T.mul(xc, xc), -1, true), 3 * kind.eps))",
    tests: allArch,
  },
  {
    id: "models-rotary-base",
    what: "rotary inverse frequencies from twice the configured base (theta)",
    file: "packages/models/src/arch/common.ts",
    find: "1 / pos.theta ** ((2 * i) / pos.rotaryDim)",
    replace: "1 / (2 * pos.theta) ** ((2 * i) / pos.rotaryDim)",
    tests: [arch("llama"), arch("gpt-neox")],
  },
  {
    id: "models-gqa-grouping",
    what: "grouped-query attention repeats key/value heads in the wrong order (repeat instead of repeat_interleave)",
    file: "packages/models/src/arch/common.ts",
    find: "T.reshape(T.broadcastTo(T.reshape(t, [B, Hkv, 1, S, Dh]), [B, Hkv, g, S, Dh]), [B, H, S, Dh])",
    replace: "T.reshape(T.broadcastTo(T.reshape(t, [B, 1, Hkv, S, Dh]), [B, g, Hkv, S, Dh]), [B, H, S, Dh])",
    tests: [arch("llama")],
  },
  {
    id: "gpt2-head-permutation",
    what: "GPT-2 splits q/k/v into [d_head, head] and transposes: the head and within-head axes swapped",
    file: "packages/models/src/arch/gpt2.ts",
    find: "T.reshape(T.narrow(qkv, 2, i * D, D), [B, Tn, H, Dh])",
    replace: "T.permute(T.reshape(T.narrow(qkv, 2, i * D, D), [B, Tn, Dh, H]), [0, 1, 3, 2])",
    tests: [arch("gpt2")],
  },
  {
    id: "gpt2-attention-scale",
    what: "GPT-2 scales scores by 1/d_head instead of 1/sqrt(d_head)",
    file: "packages/models/src/arch/gpt2.ts",
    find: "const z = attend(h, seen, q, k, v, plan, l, bias(l), 1 / Math.sqrt(Dh));",
    replace: "const z = attend(h, seen, q, k, v, plan, l, bias(l), 1 / Dh);",
    tests: [arch("gpt2")],
  },
  {
    id: "gpt2-activation-ignored",
    what: "GPT-2 hard-codes tanh GELU whatever the config's activation_function says",
    file: "packages/models/src/arch/gpt2.ts",
    find: 'const post = h("mlp.hook_post", act(pre));',
    replace: 'const post = h("mlp.hook_post", T.gelu(pre, "tanh"));',
    tests: [arch("gpt2"), arch("arch-config")],
  },
  {
    id: "llama-qkv-bias",
    what: "Qwen2's q/k/v biases never read",
    file: "packages/models/src/arch/llama.ts",
    find: ".self_attn.q_proj`, D, H * Dh, config.qkvBias),",
    replace: ".self_attn.q_proj`, D, H * Dh, false),",
    tests: [arch("llama")],
  },
  {
    id: "gpt-neox-parallel-residual",
    what: "GPT-NeoX's parallel MLP reads x + attn(x) instead of the block input",
    file: "packages/models/src/arch/gpt-neox.ts",
    find: "const m = norm(mid ?? x, blk.post_attention_layernorm,",
    replace: "const m = norm(mid ?? T.add(x, attnOut), blk.post_attention_layernorm,",
    tests: [arch("gpt-neox")],
  },
  {
    id: "gpt-neox-partial-rotary",
    what: "rotary_pct ignored: every dimension of each head rotated",
    file: "packages/models/src/config.ts",
    find: "const rotaryDim = Math.floor(dHead * pct); // transformers: int(head_size * rotary_pct)",
    replace: "const rotaryDim = Math.floor(dHead * 1); // transformers: int(head_size * rotary_pct)",
    tests: [arch("gpt-neox")],
  },
  {
    id: "bert-token-type",
    what: "BERT drops the token-type embedding from its input sum",
    file: "packages/models/src/arch/bert.ts",
    find: "const summed = T.add(T.add(embed, type), pos);",
    replace: "const summed = T.add(T.add(embed, T.mul(type, 0)), pos);",
    tests: [arch("bert")],
  },
  {
    id: "bert-position-offset",
    what: "RoBERTa's positions start one past padding_idx + 1",
    file: "packages/models/src/arch/bert.ts",
    find: "out[r] = src[r] === pad ? off - 1 : off + seen++;",
    replace: "out[r] = src[r] === pad ? off - 1 : off + 1 + seen++;",
    tests: [arch("bert")],
  },
  {
    id: "bert-post-norm-residual",
    what: "BERT's MLP residual adds to the pre-norm sum instead of the normalized one",
    file: "packages/models/src/arch/bert.ts",
    find: 'const sum = h("hook_resid_post", T.add(a, mlpOut));',
    replace: 'const sum = h("hook_resid_post", T.add(mid, mlpOut));',
    tests: [arch("bert")],
  },
];

/** Runs `tests` in `dir` through scripts/test.mjs's reporter; returns its summary. */
function runTests(dir, tests) {
  const summaryFile = join(dir, ".mutant-summary.json");
  rmSync(summaryFile, { force: true });
  const vitest = join(dir, "node_modules/vitest/vitest.mjs");
  const reporter = join(dir, "scripts/summary-reporter.mjs");
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [vitest, "run", `--reporter=${reporter}`, ...tests], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, LLMDBG_SUMMARY_FILE: summaryFile },
    timeout: 600_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (!existsSync(summaryFile))
    return {
      passed: 0,
      failed: 1,
      failedTests: 0,
      problems: [`vitest exited with ${r.status}: ${r.stderr.slice(-400)}`],
      seconds,
    };
  return { ...JSON.parse(readFileSync(summaryFile, "utf8")), seconds };
}

export function applyOnce(text, find, replace, where) {
  const at = text.indexOf(find);
  if (at < 0 || text.indexOf(find, at + 1) >= 0) {
    throw new Error(`${where}: the text to mutate must occur exactly once: ${JSON.stringify(find)}`);
  }
  return text.slice(0, at) + replace + text.slice(at + find.length);
}

function main() {
  const verbose = process.argv.includes("-v");
  const words = process.argv.slice(2).filter((a) => a !== "-v");
  const chosen = words.length === 0 ? mutations : mutations.filter((m) => words.some((w) => m.id.includes(w)));
  if (chosen.length === 0) {
    console.error(`no mutation id contains ${words.join(" or ")}; ids: ${mutations.map((m) => m.id).join(", ")}`);
    process.exit(2);
  }
  const scratch = mkdtempSync(join(tmpdir(), "llmdbg-mutants-"));
  try {
    // the tree as it is now (committed or not), without .git and outputs; node_modules hard-linked, with its
    // relative workspace links (node_modules/@llmdbg/* → ../../packages/*) now pointing into the copy
    const skip = new Set([".git", "node_modules", "bench/out"]);
    cpSync(repo, scratch, { recursive: true, filter: (src) => !skip.has(src.slice(repo.length).replace(/\/$/, "")) });
    const cp = spawnSync("cp", ["-al", join(repo, "node_modules"), join(scratch, "node_modules")]);
    if (cp.status !== 0) throw new Error(`cannot link node_modules: ${cp.stderr}`);

    // every mutation's source text must be there before anything runs
    for (const m of chosen) {
      applyOnce(readFileSync(join(scratch, m.file), "utf8"), m.find, m.replace, m.id);
    }

    const files = [...new Set(chosen.flatMap((m) => m.tests))];
    console.log(`mutants: baseline (no mutation) on ${files.length} test paths …`);
    const base = runTests(scratch, files);
    if (base.failed > 0 || base.passed === 0) {
      console.error(
        `mutants: the unmutated copy does not pass (${base.passed} passed, ${base.failed} failed):\n  ${base.problems.join("\n  ")}`,
      );
      process.exitCode = 1;
      return; // through finally, which removes the scratch copy (process.exit would skip it)
    }
    console.log(`mutants: baseline ${base.passed} passed in ${base.seconds.toFixed(0)} s\n`);

    const rows = [];
    for (const m of chosen) {
      const path = join(scratch, m.file);
      const original = readFileSync(path, "utf8");
      writeFileSync(path, applyOnce(original, m.find, m.replace, m.id));
      try {
        const r = runTests(scratch, m.tests);
        const killed = r.failedTests > 0;
        const by = killed ? (r.problems.find((p) => !p.includes(": ") || p.includes(" > ")) ?? r.problems[0]) : "";
        rows.push({ m, killed, r, by });
        console.log(
          `${killed ? "killed  " : "SURVIVED"} ${m.id} (${r.failedTests} of ${r.passed + r.failedTests} tests failed, ${r.seconds.toFixed(0)} s)` +
            (killed
              ? `\n         ${verbose ? r.problems.join("\n         ") : `first: ${by}`}`
              : `\n         ${m.what}${r.failed > r.failedTests ? ` — files failed to load: ${r.problems.join("; ")}` : ""}`),
        );
      } finally {
        writeFileSync(path, original);
      }
    }
    const killed = rows.filter((x) => x.killed).length;
    console.log(`\n${"mutation".padEnd(28)}  ${"result".padEnd(8)}  what`);
    for (const { m, killed: k } of rows) console.log(`${m.id.padEnd(28)}  ${(k ? "killed" : "SURVIVED").padEnd(8)}  ${m.what}`);
    console.log(`\nmutation score: ${killed}/${rows.length} killed`);
    process.exitCode = killed === rows.length ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// run only as a script: the test suite imports the list to check that every mutation still applies
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
