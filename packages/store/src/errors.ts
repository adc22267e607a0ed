// One error type for everything the store refuses, always naming the file (the database, a blob, an export
// folder) and what is wrong with it, so a caller never sees SQLite's bare "file is not a database".

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    /** the file or folder at fault */
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** SQLite's message (with its code when it has one), for the end of a StoreError. */
export function sqliteMessage(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === "string" ? `${msg} (${code})` : msg;
}
