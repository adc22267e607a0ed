// What the views share: the model, the prompt, and the target — a token at a position that the workbench sets on
// click and the other views read (the lens plots the target token's probability, the attention view marks the
// target position's query row).
import type { ModelInfo, TokenRef } from "@llmdbg/protocol";
import type { Reopened } from "./reopen.js";

export interface Target {
  /** the position the token was picked at (an input token, or a prediction made there) */
  readonly position: number;
  readonly token: TokenRef;
  /** "input": the prompt's token at that position; "prediction": a prediction for the next position */
  readonly from: "input" | "prediction";
}

export interface Shared {
  readonly model: ModelInfo;
  readonly prompt: string;
  readonly target: Target | null;
  setTarget(t: Target | null): void;
  /** the stored run last reopened from the Runs view, whose kind's view shows its result (reopen.ts) */
  readonly reopened: Reopened | null;
}

/**
 * The position whose next-token prediction the target is: where it was predicted, or for a prompt token, the
 * position before it (the first token has none and reads position 0).
 */
export function readPosition(t: Target): number {
  return t.from === "prediction" ? t.position : Math.max(0, t.position - 1);
}
