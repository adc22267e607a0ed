// What the server tests share: a tiny GPT-2 written to a temp folder, a server on a free port over it, and a
// WebSocket client that collects each request's replies up to its final one.
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RpcId, RpcReply } from "@llmdbg/protocol";
import { writeTinyModel } from "@llmdbg/testing";
import WebSocket from "ws";
import { type RunningServer, type ServerOptions, startServer } from "../src/index.js";

export function tinyFolder(): { dir: string; model: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "llmdbg-server-"));
  const model = join(dir, "gpt2");
  writeTinyModel(model, "gpt2", { seed: 3 });
  return { dir, model, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function serve(model: string, opts: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({ models: { tiny: model }, backend: "ref", warn: () => {}, ...opts });
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** the body's bytes (for binary downloads) */
  raw: Buffer;
}

/** A raw HTTP request (Host and every header as given; nothing added but what Node adds). */
export function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: { ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            raw: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export const bearer = (s: RunningServer) => ({ Authorization: `Bearer ${s.token}` });

/** A WebSocket client; `call` sends one request and resolves with all its replies, the final one last. */
export class Client {
  readonly replies = new Map<RpcId | null, RpcReply[]>();
  private readonly waiting = new Map<RpcId | null, (r: RpcReply[]) => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const r = JSON.parse(data.toString()) as RpcReply;
      const list = this.replies.get(r.id) ?? [];
      list.push(r);
      this.replies.set(r.id, list);
      if (r.kind === "result" || r.kind === "error") {
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        w?.(list);
      }
    });
  }

  static open(s: RunningServer, headers: Record<string, string> = { Cookie: `${s.cookie}=${s.token}` }): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers });
      ws.once("open", () => resolve(new Client(ws)));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** Resolves with the replies of `id` once its final reply came (the message is sent first when given). */
  wait(id: RpcId | null): Promise<RpcReply[]> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  call(id: RpcId, method: string, params: unknown = {}): Promise<RpcReply[]> {
    const p = this.wait(id);
    this.ws.send(JSON.stringify({ id, method, params }));
    return p;
  }

  close(): void {
    this.ws.close();
  }
}

export const final = (rs: RpcReply[]): RpcReply => rs[rs.length - 1] as RpcReply;
