// Types of scripts/check-deps.mjs for its test.
export function importsOf(src: string): string[];
export function checkDeps(root: string): string[];
