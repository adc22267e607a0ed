// What the browser tests and the UI benchmarks share: the UI built by Vite into a folder, and Debian's Chromium
// (never a downloaded browser) started headless through playwright-core with one set of flags — no GPU (software
// rendering), no network of its own, a fresh profile folder — and a page whose console errors and page errors
// are collected (a CSP violation is a console error).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";

export const CHROMIUM = "/usr/bin/chromium";
export const haveChromium = (): boolean => existsSync(CHROMIUM);

/** The web package's folder (its vite.config.ts and sources). */
export const webRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Builds the UI into `outDir` (Vite's production build, warnings only). */
export async function buildUi(outDir: string): Promise<void> {
  await build({ root: webRoot, configFile: join(webRoot, "vite.config.ts"), logLevel: "warn", build: { outDir } });
}

/** Chromium on a fresh profile folder, headless with the flags above. */
export function launchChromium(
  profile: string,
  viewport: { readonly width: number; readonly height: number } = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
}

export interface OpenBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
}

/**
 * Chromium on a fresh profile folder, its first page, and every console error and page error pushed to
 * `problems` (prefixed by `label` when given). `timeoutMs` becomes the context's default wait.
 */
export async function openBrowser(
  profile: string,
  problems: string[],
  opts: { readonly label?: string; readonly timeoutMs?: number } = {},
): Promise<OpenBrowser> {
  const context = await launchChromium(profile);
  if (opts.timeoutMs !== undefined) context.setDefaultTimeout(opts.timeoutMs);
  const page = context.pages()[0] ?? (await context.newPage());
  const prefix = opts.label === undefined ? "" : `${opts.label} `;
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${prefix}console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${prefix}page error: ${e.message}`));
  return { context, page };
}
