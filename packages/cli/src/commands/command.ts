// The shape of one `llmdbg` subcommand; main.ts keeps them in an exhaustive table.

export interface Command {
  /** one line for `llmdbg --help` */
  readonly summary: string;
  /** the synopsis printed with usage errors, e.g. `llmdbg inspect <model> [--json]` */
  readonly usage: string;
  /** one line per option for `llmdbg <command> --help` */
  readonly help: readonly string[];
  /** Runs the command on the arguments after its name; resolves to the exit code. */
  run(argv: readonly string[]): number | Promise<number>;
}
