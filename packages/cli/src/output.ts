// What the commands print: `--json` objects on stdout, aligned tables for people, and a progress bar on
// stderr. Decoration (bars, bold) appears only on a terminal, so piped output stays plain and diffable.

/** One compact line of JSON: `--json` output is for programs (jq), and logits arrays would be huge indented. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** Bold on a terminal; unchanged when piped. */
export function bold(text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return stream.isTTY ? `\x1b[1m${text}\x1b[22m` : text;
}

/** Dim on a terminal (a prompt before its continuation); unchanged when piped. */
export function dim(text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return stream.isTTY ? `\x1b[2m${text}\x1b[22m` : text;
}

export type Align = "left" | "right";

/**
 * Pads columns to their widest cell; `align` per column (default: left). The header is underlined with dashes.
 * @example table(["name", "ms"], [["attn", "1.20"]], ["left", "right"])
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => visibleLength(r[c] ?? ""))));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => {
        const pad = " ".repeat((widths[c] ?? 0) - visibleLength(cell));
        return align[c] === "right" ? pad + cell : c === r.length - 1 ? cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

/** Length without ANSI escapes (bold cells must not widen their column). */
function visibleLength(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/** 1234567 → "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Bytes with a binary unit: 1536 → "1.5 KiB"; negative deltas keep their sign. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${n < 0 ? "-" : ""}${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "–";
}

/**
 * A token made visible: quotes, escapes for control characters and newlines, and the `\xHH` byte escapes of
 * tokenDisplay left single (JSON would double their backslash).
 */
export function quoted(s: string): string {
  return JSON.stringify(s).replace(/\\\\x([0-9a-f]{2})/g, "\\x$1");
}

/**
 * A one-line progress bar redrawn in place on stderr, or nothing when stderr is not a terminal (a log file
 * would fill with carriage returns). Redraws are throttled: a checkpoint has thousands of tensors.
 * @example const bar = progressBar("loading"); bar?.update(done, total); bar?.finish();
 */
export function progressBar(
  label: string,
  unit: "bytes" | "passes" = "bytes",
  stream: NodeJS.WriteStream = process.stderr,
): ProgressBar | undefined {
  return stream.isTTY ? new ProgressBar(label, stream, unit) : undefined;
}

export class ProgressBar {
  private last = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream,
    private readonly unit: "bytes" | "passes",
  ) {}

  update(done: number, total: number, detail = ""): void {
    const now = performance.now();
    if (done < total && now - this.last < 50) return;
    this.last = now;
    const width = 30;
    const frac = total > 0 ? Math.min(done / total, 1) : 1;
    const fill = Math.round(frac * width);
    const cols = this.stream.columns ?? 80;
    let text = `${this.label} [${"#".repeat(fill)}${".".repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.unit === "bytes" ? `${bytes(done)} / ${bytes(total)}` : `${done} / ${total} ${this.unit}`}`;
    if (detail !== "") text += ` ${detail}`;
    this.stream.write(`\r${text.slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the line so the command's own output starts at column 0. */
  finish(): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
  }
}
