// A stored run reopened from the Runs view: its kind's view shows the result as it was stored — the request's
// settings restored, nothing computed again — until that view runs something new. The App hands every view the
// same `Reopened` value; each view takes the results of the kinds it draws, once per reopening (`n` counts them,
// so reopening the same run twice shows it twice, and a view mounted afresh for another model takes nothing).
import { type DependencyList, useEffect, useRef } from "react";
import type { StoredRun } from "./runs.js";

export interface Reopened {
  /** bumped on every reopening */
  readonly n: number;
  readonly run: StoredRun;
}

/** What a view is handed: the stored result of one of its kinds, the request it answered, and the run's id. */
export interface StoredResult<R> {
  readonly result: R;
  /** the method request (`options.request`) for a method run; the run's params (`input`, `topK`, …) otherwise */
  readonly request: Readonly<Record<string, unknown>>;
  readonly runId: number;
  readonly prompt: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The run's first result whose kind is one of `kinds`, with its request; undefined if it has none (or failed). */
export function storedResult<R extends { readonly kind: string }>(
  run: StoredRun,
  kinds: readonly R["kind"][],
): StoredResult<R> | undefined {
  const hit = run.results.find((x) => (kinds as readonly string[]).includes(x.kind) && isObject(x.result));
  if (hit === undefined) return undefined;
  const request = isObject(run.options.request) ? run.options.request : run.options;
  return { result: hit.result as R, request, runId: run.id, prompt: run.prompt };
}

/** The model a run was served on (its id on this server when it was recorded). */
export const servedModel = (run: StoredRun): string | undefined =>
  typeof run.options.served === "string" ? run.options.served : undefined;

/** A field of a stored request if it has the fallback's type, else the fallback (requests come back as plain JSON). */
export function field(req: Readonly<Record<string, unknown>>, key: string, fallback: string): string;
export function field(req: Readonly<Record<string, unknown>>, key: string, fallback: number): number;
export function field(req: Readonly<Record<string, unknown>>, key: string, fallback: string | number): string | number {
  const v = req[key];
  return typeof v === typeof fallback ? (v as string | number) : fallback;
}

/**
 * Calls `apply` with the reopened run's result of one of `kinds`, once per reopening. `apply` may change with
 * every render; only the reopening (and `deps`) trigger it.
 */
export function useReopened<R extends { readonly kind: string }>(
  reopened: Reopened | null,
  kinds: readonly R["kind"][],
  apply: (stored: StoredResult<R>) => void,
  deps: DependencyList = [],
): void {
  const latest = useRef(apply);
  latest.current = apply;
  const kindsKey = kinds.join(",");
  // biome-ignore lint/correctness/useExhaustiveDependencies: the reopening's count and the kinds are what matter
  useEffect(() => {
    if (reopened === null) return;
    const hit = storedResult<R>(reopened.run, kindsKey.split(",") as R["kind"][]);
    if (hit !== undefined) latest.current(hit);
  }, [reopened?.n, kindsKey, ...deps]);
}
