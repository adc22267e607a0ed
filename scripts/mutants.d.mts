// Types of scripts/mutants.mjs for the test that checks its list.
export interface Mutation {
  readonly id: string;
  readonly what: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  readonly tests: readonly string[];
}
export const mutations: readonly Mutation[];
export function applyOnce(text: string, find: string, replace: string, where: string): string;
