/**
 * A model file that does not follow its format. The message always reads `file: field: what was expected`,
 * so a user can find the broken byte range without a debugger; `file` and `field` are kept separately for
 * programs (the UI highlights the field).
 *
 * @example
 * try { readSafetensors("model.safetensors"); } catch (e) { if (e instanceof ModelFormatError) console.log(e.field); }
 */
export class ModelFormatError extends Error {
  override name = "ModelFormatError";

  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}: ${field}: ${detail}`);
  }
}

/** A value as it appeared in a file, short enough for an error message (names can be megabytes long). */
export function show(v: unknown, max = 80): string {
  let s: string;
  if (v === undefined) s = "nothing";
  else if (typeof v === "number" && !Number.isFinite(v)) s = String(v);
  else s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
