// The server's RPC contract over one WebSocket: the client sends requests `{ id, method, params }`; for each the
// server sends any number of `progress` and `partial` replies and then exactly one final reply, `result` or
// `error`, all tagged by `kind` and carrying the request's id. Cancelling is itself a request (`cancel`, naming
// the id to stop): it gets its own result, and the stopped request ends with an `error` of code `cancelled`.
// Models are named by the ids the server was started with, never by a filesystem path.

import type { DatasetsListResult, PredictionsPartial, PredictionsResult, PredictParams } from "./datasets.js";
import type { Intervention } from "./interventions.js";
import type { MethodRequest, MethodResult, TokenInput } from "./methods.js";

/** A request id, chosen by the client; unique among its requests in flight on one connection. */
export type RpcId = string | number;

/** A model the server holds: its id, a display name and its configuration (no filesystem path). */
export interface ModelInfo {
  readonly id: string;
  /** the folder's or file's base name */
  readonly name: string;
  readonly family: string;
  readonly format: "safetensors" | "gguf";
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dModel: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** the labels of a sequence classifier; null for a language model */
  readonly labels: readonly string[] | null;
  readonly hasTokenizer: boolean;
  /** the normalized configuration, without the path it was read from */
  readonly config: { readonly [key: string]: unknown };
}

export interface ModelsListResult {
  readonly kind: "models";
  readonly models: readonly ModelInfo[];
}

/** One forward pass, as `llmdbg run --json` computes it. */
export interface RunParams {
  readonly model: string;
  readonly input: TokenInput;
  /** predictions per position (default 5) */
  readonly topK?: number;
  /** applied during the pass (live ablation, steering); hook names and head indices are checked against the model */
  readonly interventions?: readonly Intervention[];
}

/** One prediction of `run`: the token, its strings where the tokenizer names it, logit and probability. */
export interface RunPrediction {
  readonly id: number;
  /** the vocabulary string (`Ġworld`), or a classifier's label; null without a tokenizer */
  readonly token: string | null;
  /** the decoded text of the token alone */
  readonly text: string | null;
  /** the text with the bytes of a partial UTF-8 character escaped */
  readonly display: string | null;
  readonly logit: number;
  readonly prob: number;
}

export interface RunResult {
  readonly kind: "run";
  readonly model: string;
  readonly tokens: readonly number[];
  readonly tokenStrings: readonly (string | null)[];
  readonly tokenDisplays: readonly (string | null)[];
  /** one row per position for a language model; one row for a classifier */
  readonly positions: readonly { readonly position: number; readonly top: readonly RunPrediction[] }[];
}

/** A continuation of a prompt; each new token arrives as a `partial` reply. */
export interface GenerateParams {
  readonly model: string;
  readonly input: TokenInput;
  /** default: the checkpoint's max_new_tokens, else 32; capped by the model's positions */
  readonly maxNewTokens?: number;
  /** 0 is greedy; any sampling field turns sampling on (as `llmdbg generate`) */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
}

/** One generated token, streamed: `text` is what it adds to the decoded text (empty while a character is split). */
export interface GeneratePartial {
  readonly kind: "token";
  readonly index: number;
  readonly id: number;
  readonly text: string | null;
}

export interface GenerateResult {
  readonly kind: "generate";
  readonly model: string;
  readonly promptTokens: readonly number[];
  readonly newTokens: readonly number[];
  readonly text: string | null;
  readonly finishReason: string;
}

/** Any method of `@llmdbg/methods`, by its protocol request (`kind` picks the method). */
export interface MethodParams {
  readonly model: string;
  readonly request: MethodRequest;
  /** the texts a `neurons` request reads (the CLI streams a file; over the wire they come with the request) */
  readonly corpus?: readonly string[];
}

export interface CancelParams {
  /** the id of the request to stop, queued or running */
  readonly id: RpcId;
}

export interface CancelResult {
  readonly kind: "cancel";
  /** false when no request with that id was queued or running on this connection */
  readonly cancelled: boolean;
}

/** The methods: each one's params and final result. */
export interface RpcMethods {
  readonly "models.list": { readonly params: Record<string, never>; readonly result: ModelsListResult };
  readonly run: { readonly params: RunParams; readonly result: RunResult };
  readonly generate: { readonly params: GenerateParams; readonly result: GenerateResult };
  readonly method: { readonly params: MethodParams; readonly result: MethodResult };
  readonly cancel: { readonly params: CancelParams; readonly result: CancelResult };
  /** the datasets the server holds (examples by REST: `GET /api/datasets/<id>/rows`) */
  readonly "datasets.list": { readonly params: Record<string, never>; readonly result: DatasetsListResult };
  /** a model's predictions on every example of a dataset, streamed as `predictions` partials; stored as an evaluation */
  readonly "datasets.predict": { readonly params: PredictParams; readonly result: PredictionsResult };
}

/** What a `partial` reply carries: a generated token, or a batch of a dataset's predictions. */
export type RpcPartial = GeneratePartial | PredictionsPartial;

export type RpcMethod = keyof RpcMethods;

/** A client's message. */
export type RpcRequest = {
  readonly [M in RpcMethod]: { readonly id: RpcId; readonly method: M; readonly params: RpcMethods[M]["params"] };
}[RpcMethod];

export type RpcResult = RpcMethods[RpcMethod]["result"];

/** Why a request failed. */
export type RpcErrorCode =
  /** the message is not JSON or not a request; its id, when one could be read, is echoed */
  | "bad_request"
  | "unknown_method"
  | "unknown_model"
  /** the request's fields are wrong for the method (a MethodRequestError names the field) */
  | "invalid_params"
  /** the lane's queue is full: try again later */
  | "queue_full"
  | "cancelled"
  /** the job ran past its time budget */
  | "timeout"
  /** the job's memory grew past its budget (the server's limits set it) */
  | "memory"
  /** the computation failed (a bad token, a model error) */
  | "failed"
  | "internal";

/** A server's message: progress and partial replies, then one final `result` or `error` per request. */
export type RpcReply =
  | {
      readonly kind: "progress";
      readonly id: RpcId;
      /** `queued` while waiting (done = place in the queue, 0 = next) or a method's unit of work */
      readonly what: string;
      readonly done: number;
      readonly total: number;
    }
  | { readonly kind: "partial"; readonly id: RpcId; readonly data: RpcPartial }
  | {
      readonly kind: "result";
      readonly id: RpcId;
      readonly result: RpcResult;
      /** the server's id for the result, for `GET /api/jobs/<job>` while it is kept */
      readonly job?: string;
    }
  | { readonly kind: "error"; readonly id: RpcId | null; readonly code: RpcErrorCode; readonly message: string };
