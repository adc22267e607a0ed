export function watFiles(root?: string): string[];
export function watToTs(watPath: string): Promise<string>;
export function tsPathOf(watPath: string): string;
