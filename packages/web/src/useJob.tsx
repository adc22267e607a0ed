// One call at a time per view: its progress, its error, and a stop button's abort. Starting a new call stops the
// previous one; unmounting stops the current one.
import { useCallback, useEffect, useRef, useState } from "react";
import { type CallOptions, type Progress, RpcError } from "./rpc.js";

export interface Job {
  readonly running: boolean;
  readonly progress: Progress | null;
  readonly error: string | null;
  /** the finished result's download address on the server, while it keeps it */
  readonly download: string | null;
  /** runs `call`; `done` gets its result unless the job was stopped or replaced first */
  start<T>(call: (opts: CallOptions) => Promise<T>, done: (result: T) => void, opts?: CallOptions): void;
  stop(): void;
}

export function useJob(): Job {
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [download, setDownload] = useState<string | null>(null);
  const current = useRef<AbortController | null>(null);

  const stop = useCallback(() => current.current?.abort(), []);
  useEffect(() => stop, [stop]);

  const start = useCallback(<T,>(call: (opts: CallOptions) => Promise<T>, done: (result: T) => void, opts: CallOptions = {}) => {
    current.current?.abort();
    const ctl = new AbortController();
    current.current = ctl;
    setRunning(true);
    setProgress(null);
    setError(null);
    setDownload(null);
    const mine = () => current.current === ctl;
    call({
      ...opts,
      signal: ctl.signal,
      onProgress: (p) => {
        if (mine()) setProgress(p);
        opts.onProgress?.(p);
      },
      onJob: (job) => {
        if (mine()) setDownload(`/api/jobs/${encodeURIComponent(job)}`);
      },
    }).then(
      (r) => {
        if (!mine()) return;
        current.current = null;
        setRunning(false);
        done(r);
      },
      (e: unknown) => {
        if (!mine()) return;
        current.current = null;
        setRunning(false);
        setError(e instanceof RpcError && e.code === "cancelled" ? "stopped" : e instanceof Error ? e.message : String(e));
      },
    );
  }, []);

  return { running, progress, error, download, start, stop };
}

/** "queued (2 ahead)", "layer 3/12" — a progress reply in words. */
export function progressText(p: Progress | null): string {
  if (p === null) return "working…";
  if (p.what === "queued") return p.done === 0 ? "queued: next" : `queued: ${p.done} ahead`;
  return `${p.what} ${p.done}/${p.total}`;
}

/**
 * Links to download a finished result: as JSON, and with `figure` as the server draws it — SVG (cells, labels,
 * title, scale) and PNG (the cells alone). Nothing while there is no result.
 */
export function DownloadLink({ job, testId, figure = false }: { job: Job; testId?: string; figure?: boolean }) {
  if (job.download === null || job.running) return null;
  return (
    <span className="download">
      <a href={job.download} download data-testid={testId}>
        download JSON
      </a>
      {figure && (
        <>
          {" · "}
          <a href={`${job.download}/figure.svg`} download data-testid={testId === undefined ? undefined : `${testId}-svg`}>
            SVG
          </a>
          {" · "}
          <a href={`${job.download}/figure.png`} download data-testid={testId === undefined ? undefined : `${testId}-png`}>
            PNG
          </a>
        </>
      )}
    </span>
  );
}

/** Says that a view shows a stored run's result as recorded (reopen.ts), until the view computes anew. */
export function StoredNote({ run }: { run: number | null }) {
  if (run === null) return null;
  return (
    <span className="muted" data-testid="stored-note">
      stored run {run}, shown as it was recorded
    </span>
  );
}
