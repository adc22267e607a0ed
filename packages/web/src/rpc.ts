// The browser's side of the server's RPC (packages/protocol/src/rpc.ts): one WebSocket, a request id per call,
// and each reply routed by its id — `progress` and `partial` to the call's callbacks, the final `result` or
// `error` to its promise. Cancelling is a request of its own (`cancel`, naming the id); the cancelled call then
// ends with the server's `cancelled` error, as any other error. The socket is an interface so the tests drive a
// fake one; in the page it is the browser's WebSocket.
import type { GeneratePartial, PredictionsPartial, RpcErrorCode, RpcId, RpcMethod, RpcMethods, RpcReply } from "@llmdbg/protocol";

/** What the client needs of a WebSocket (the browser's satisfies it). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { readonly data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

const OPEN = 1;

/** A failed call: the server's error code and message, or `closed` when the connection went away first. */
export class RpcError extends Error {
  constructor(
    readonly code: RpcErrorCode | "closed",
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface Progress {
  readonly what: string;
  readonly done: number;
  readonly total: number;
}

export interface CallOptions {
  onProgress?: (p: Progress) => void;
  onPartial?: (p: GeneratePartial) => void;
  /** a batch of `datasets.predict` predictions */
  onPredictions?: (p: PredictionsPartial) => void;
  /** the server's id for the result, when it keeps it for download (`GET /api/jobs/<job>`); called before it resolves */
  onJob?: (job: string) => void;
  /** aborting sends `cancel` for this call; the call still ends with the server's final reply */
  signal?: AbortSignal;
}

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (e: RpcError) => void;
  readonly opts: CallOptions;
  readonly unlisten: () => void;
}

/**
 * One connection to the server and the calls in flight on it.
 * @example
 * const rpc = new RpcClient(new WebSocket(`ws://${location.host}/ws`));
 * const { models } = await rpc.call("models.list", {});
 */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<RpcId, Pending>();
  /** messages written before the socket opened */
  private readonly outbox: string[] = [];
  private closedWith: RpcError | null = null;
  /** replies with no call to go to (an error with id null: the server could not read a message) */
  onStray: (reply: RpcReply) => void = () => {};
  /** the connection closed; every call in flight has been rejected */
  onClose: () => void = () => {};

  constructor(private readonly socket: SocketLike) {
    socket.onopen = () => {
      for (const m of this.outbox.splice(0)) socket.send(m);
    };
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onclose = () => this.fail(new RpcError("closed", "the connection to the server closed"));
    socket.onerror = () => this.fail(new RpcError("closed", "the connection to the server failed"));
  }

  /** How many calls wait for their final reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; resolves with its result, rejects with an RpcError. */
  call<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M]["params"],
    opts: CallOptions = {},
  ): Promise<RpcMethods[M]["result"]> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<RpcMethods[M]["result"]>((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = () => this.cancel(id);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve: resolve as (r: unknown) => void,
        reject,
        opts,
        unlisten: () => signal?.removeEventListener("abort", onAbort),
      });
      this.write({ id, method, params });
      if (signal?.aborted === true) this.cancel(id);
    });
  }

  /** Asks the server to stop call `id`; the call ends with its `cancelled` error. */
  cancel(id: RpcId): void {
    if (!this.pending.has(id) || this.closedWith !== null) return;
    // the cancel request's own reply (`{ kind: "cancel", cancelled }`) needs no caller
    const cid = `cancel-${this.nextId++}`;
    this.pending.set(cid, { resolve: () => {}, reject: () => {}, opts: {}, unlisten: () => {} });
    this.write({ id: cid, method: "cancel", params: { id } });
  }

  close(): void {
    this.socket.close();
    this.fail(new RpcError("closed", "the connection was closed"));
  }

  private write(message: unknown): void {
    const text = JSON.stringify(message);
    if (this.socket.readyState === OPEN) this.socket.send(text);
    else this.outbox.push(text);
  }

  private receive(data: unknown): void {
    let reply: RpcReply;
    try {
      reply = JSON.parse(String(data)) as RpcReply;
    } catch {
      return void this.onStray({
        kind: "error",
        id: null,
        code: "bad_request",
        message: "the server sent a message that is not JSON",
      });
    }
    const p = reply.id === null ? undefined : this.pending.get(reply.id);
    if (p === undefined || reply.id === null) return void this.onStray(reply);
    switch (reply.kind) {
      case "progress":
        return void p.opts.onProgress?.({ what: reply.what, done: reply.done, total: reply.total });
      case "partial":
        if (reply.data.kind === "predictions") return void p.opts.onPredictions?.(reply.data);
        return void p.opts.onPartial?.(reply.data);
      case "result":
        this.pending.delete(reply.id);
        p.unlisten();
        if (reply.job !== undefined) p.opts.onJob?.(reply.job);
        return void p.resolve(reply.result);
      case "error":
        this.pending.delete(reply.id);
        p.unlisten();
        return void p.reject(new RpcError(reply.code, reply.message));
      default:
        return void this.onStray(reply);
    }
  }

  private fail(e: RpcError): void {
    if (this.closedWith !== null) return;
    this.closedWith = e;
    this.outbox.length = 0;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      p.unlisten();
      p.reject(e);
    }
    this.onClose();
  }
}

/** The server's WebSocket, next to the page (the cookie the token was swapped for authenticates it). */
export function connect(loc: { readonly protocol: string; readonly host: string } = location): RpcClient {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  // the DOM types its handlers' events as Event subclasses; the client reads only `data` of a message
  return new RpcClient(new WebSocket(`${scheme}//${loc.host}/ws`) as unknown as SocketLike);
}
