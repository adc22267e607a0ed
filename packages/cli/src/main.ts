// `llmdbg`: dispatch to the subcommands and turn failures into exit codes. A bad command line exits 2 with
// the usage line; a bad model file or input exits 1 with `llmdbg: <message>` (the models' errors already
// name the file and field). Stack traces are for bugs, shown only with LLMDBG_DEBUG=1.
import { UsageError } from "./args.js";
import { ablateCommand } from "./commands/ablate.js";
import { adversarialCommand } from "./commands/adversarial.js";
import { attentionCommand } from "./commands/attention.js";
import { attributeCommand } from "./commands/attribute.js";
import type { Command } from "./commands/command.js";
import { convertCommand } from "./commands/convert.js";
import { counterfactualCommand } from "./commands/counterfactual.js";
import { demoCommand } from "./commands/demo.js";
import { dlaCommand } from "./commands/dla.js";
import { editCommand } from "./commands/edit.js";
import { finetuneCommand } from "./commands/finetune.js";
import { generateCommand } from "./commands/generate.js";
import { inspect } from "./commands/inspect.js";
import { lensCommand } from "./commands/lens.js";
import { neuronsCommand } from "./commands/neurons.js";
import { patchCommand } from "./commands/patch.js";
import { probeCommand } from "./commands/probe.js";
import { profileCommand } from "./commands/profile.js";
import { runCommand } from "./commands/run.js";
import { runsCommand } from "./commands/runs.js";
import { serveCommand } from "./commands/serve.js";
import { steerCommand } from "./commands/steer.js";
import { trainCommand } from "./commands/train.js";
import { tuneCommand } from "./commands/tune.js";
import { zooCommand } from "./commands/zoo.js";

export type CommandName =
  | "inspect"
  | "run"
  | "generate"
  | "profile"
  | "convert"
  | "lens"
  | "dla"
  | "attribute"
  | "patch"
  | "ablate"
  | "probe"
  | "steer"
  | "attention"
  | "edit"
  | "counterfactual"
  | "adversarial"
  | "neurons"
  | "train"
  | "finetune"
  | "tune"
  | "serve"
  | "demo"
  | "zoo"
  | "runs";

/** Exhaustive: a name in CommandName without a command fails to compile. */
const commands: { readonly [C in CommandName]: Command } = {
  inspect,
  run: runCommand,
  generate: generateCommand,
  profile: profileCommand,
  convert: convertCommand,
  lens: lensCommand,
  dla: dlaCommand,
  attribute: attributeCommand,
  patch: patchCommand,
  ablate: ablateCommand,
  probe: probeCommand,
  steer: steerCommand,
  attention: attentionCommand,
  edit: editCommand,
  counterfactual: counterfactualCommand,
  adversarial: adversarialCommand,
  neurons: neuronsCommand,
  train: trainCommand,
  finetune: finetuneCommand,
  tune: tuneCommand,
  serve: serveCommand,
  demo: demoCommand,
  zoo: zooCommand,
  runs: runsCommand,
};

const isCommand = (s: string): s is CommandName => Object.hasOwn(commands, s);

function overview(): string {
  const names = Object.keys(commands) as CommandName[];
  const w = Math.max(...names.map((n) => n.length));
  return [
    "usage: llmdbg <command> <model> [options]      (train, tune: a run file; zoo, runs: an action; serve: --model; demo)",
    "",
    "<model> is a Hugging Face model folder (config.json, *.safetensors, tokenizer.json) or a .gguf file;",
    "zoo/stories is a small one that ships with llmdbg.",
    "",
    "commands:",
    ...names.map((n) => `  ${n.padEnd(w)}  ${commands[n].summary}`),
    "",
    "llmdbg <command> --help lists a command's options. Environment: LLMDBG_BACKEND=ref|ort, LLMDBG_THREADS=N.",
  ].join("\n");
}

function commandHelp(c: Command): string {
  return [`usage: ${c.usage}`, "", c.summary, "", ...c.help.map((h) => `  ${h}`)].join("\n");
}

/**
 * Runs the command line (without `node` and the script) and resolves to the exit code.
 * @example process.exitCode = await main(["inspect", "models/gpt2", "--json"])
 */
export async function main(argv: readonly string[]): Promise<number> {
  // `llmdbg generate … | head` closes the pipe early: that is the reader's choice, not an error
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${overview()}\n`);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${overview()}\n`);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write("llmdbg 0.1.0\n");
    return 0;
  }
  if (!isCommand(name)) {
    process.stderr.write(`llmdbg: unknown command ${JSON.stringify(name)}\n${overview()}\n`);
    return 2;
  }
  const command = commands[name];
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`llmdbg ${name}: ${e.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`llmdbg: ${err.message}\n`);
    if (process.env.LLMDBG_DEBUG === "1" && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
