// `llmdbg generate --chat`: the user message goes through the model's chat template with the assistant prompt,
// tokenized without adding special tokens again (transformers' apply_chat_template), and generation continues
// from there exactly as in-process.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "@llmdbg/core";
import { loadModel } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { renderChatTemplate } from "@llmdbg/tokenizers";
import { afterAll, describe, expect, it } from "vitest";

T.useBackend("ref");

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-chat-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// ChatML's shape with short markers: the tiny model has 64 positions and a 297-token vocabulary
const CHATML =
  "{% for m in messages %}{{ '<' + m['role'][0] + '>' + m['content'] + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<a>' }}{% endif %}";

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, LLMDBG_BACKEND: "ref" };
    execFile(process.execPath, [BIN, ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
    });
  });
}

describe("llmdbg generate --chat", () => {
  const folder = join(dir, "chat");
  writeTinyModel(folder, "gpt2", { seed: 4 });
  const cfgPath = join(folder, "tokenizer_config.json");
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, "utf8")), chat_template: CHATML }));

  it("renders the template and continues from it as generate() does", async () => {
    const m = loadModel(folder);
    const tok = m.tokenizer;
    if (tok === undefined) throw new Error("no tokenizer");
    const text = renderChatTemplate(
      CHATML,
      [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello" },
      ],
      { addGenerationPrompt: true },
    );
    expect(text).toBe("<s>be brief\n<u>hello\n<a>");
    const prompt = tok.encode(text, { addSpecialTokens: false });
    const want = generate(m.model, [prompt], { maxNewTokens: 4, temperature: 0 }).tokens[0];
    const r = await cli([
      "generate",
      folder,
      "--chat",
      "--system",
      "be brief",
      "--text",
      "hello",
      "--max-new",
      "4",
      "--temperature",
      "0",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { promptTokens: number[]; newTokens: number[] };
    expect(out.promptTokens).toEqual(prompt);
    expect(out.newTokens).toEqual(want);
  });

  it("refuses --chat without a template and --system without --chat", async () => {
    writeTinyModel(join(dir, "plain"), "gpt2", { seed: 4 });
    const a = await cli(["generate", join(dir, "plain"), "--chat", "--text", "hi"]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/no chat template/);
    const b = await cli(["generate", folder, "--system", "x", "--text", "hi"]);
    expect(b.code).toBe(2);
  });
});
