// The checks every request passes before it is routed (docs: README "Server", security model): the Host header
// against the names of this server (DNS rebinding), the Origin against this server's own origins, and the
// per-launch token from the cookie or an `Authorization: Bearer` header, compared in constant time. And the
// confinement of static files to their folder.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join, sep } from "node:path";

/**
 * The cookie's name carries the port: cookies are not kept per port, so two servers on one machine would
 * otherwise overwrite each other's token (as Jupyter names its cookie per port).
 */
export const cookieName = (port: number) => `llmdbg_token_${port}`;

/** 256 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Whether `given` is the token, in time independent of where they differ. */
export function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  // timingSafeEqual needs equal lengths; comparing the token with itself keeps the time the same
  return timingSafeEqual(a.length === b.length ? a : b, b) && a.length === b.length;
}

/** The token a request carries: the cookie, else a bearer header; undefined when it carries none. */
export function requestToken(req: IncomingMessage, cookie: string): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1] ?? "";
  }
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === cookie) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** 401 without a token, 403 with a wrong one, undefined when it is right. */
export function authStatus(req: IncomingMessage, token: string, cookie: string): 401 | 403 | undefined {
  const given = requestToken(req, cookie);
  if (given === undefined) return 401;
  return tokenMatches(given, token) ? undefined : 403;
}

/** The Host values this server answers to: loopback names with the port, plus the names given. */
export function allowedHosts(port: number, extra: readonly string[]): Set<string> {
  const names = ["127.0.0.1", "localhost", "[::1]", ...extra];
  return new Set(names.map((n) => `${n.toLowerCase()}:${port}`));
}

/** Whether the request's Host header is one of this server's names. */
export function hostAllowed(req: IncomingMessage, hosts: ReadonlySet<string>): boolean {
  const host = req.headers.host;
  return host !== undefined && hosts.has(host.toLowerCase());
}

/**
 * Whether the request's Origin is this server (http://<an allowed host>). `required`: a request without an
 * Origin is refused too (a browser always sends one on a WebSocket upgrade and on a cross-site POST; a script
 * sends none, and authenticates with the bearer token).
 */
export function originAllowed(req: IncomingMessage, hosts: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const m = /^http:\/\/([^/]+)$/i.exec(origin);
  return m !== null && hosts.has((m[1] as string).toLowerCase());
}

/** Security headers on every response. The UI's code and styles come from this server only. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

/**
 * The file a URL path names inside `root`, or a status: 400 for a path that tries to leave it (`..` or `.`
 * segments, backslashes, NUL, percent-encodings that decode to any of these, however often encoded), 404 for
 * one that does not exist or resolves outside it (a symlink out of the folder). A folder serves its index.html.
 */
export function staticFile(root: string, urlPath: string): string | 400 | 404 {
  let p = urlPath;
  // decode until stable, so `%252e%252e` is caught as `..` and not decoded once more by someone else later
  for (let i = 0; i < 4; i++) {
    let d: string;
    try {
      d = decodeURIComponent(p);
    } catch {
      return 400;
    }
    if (d === p) break;
    p = d;
  }
  if (/%[0-9a-f]{2}/i.test(p)) return 400; // still encoded after four rounds
  if (p.includes("\0") || p.includes("\\")) return 400;
  const segments = p.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === ".." || s === ".")) return 400;
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(join(realRoot, ...segments));
  } catch {
    return 404;
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep)) return 404;
  try {
    if (statSync(real).isDirectory()) {
      const index = realpathSync(join(real, "index.html"));
      if (!index.startsWith(realRoot + sep) || !statSync(index).isFile()) return 404;
      return index;
    }
  } catch {
    return 404;
  }
  return real;
}
