// The server's security model, request by request: the launch token swapped for a cookie, 401/403 without or
// with a wrong token (HTTP and WebSocket), foreign Host and Origin refused, static files confined to their
// folder, size caps on bodies and WebSocket messages, security headers, models named by id only, and only
// loopback unless asked.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

const tiny = tinyFolder();
const site = join(tiny.dir, "site");
mkdirSync(join(site, "assets"), { recursive: true });
writeFileSync(join(site, "index.html"), "<!doctype html><p>ui</p>");
writeFileSync(join(site, "assets", "app.js"), "console.log(1)");
writeFileSync(join(tiny.dir, "secret.txt"), "SECRET");
symlinkSync(join(tiny.dir, "secret.txt"), join(site, "escape.txt"));
symlinkSync(tiny.dir, join(site, "up"));

let s: RunningServer;
beforeAll(async () => {
  s = await serve(tiny.model, { staticDir: site, limits: { bodyBytes: 1024, wsMessageBytes: 4096 } });
});
afterAll(async () => {
  await s?.close();
  tiny.cleanup();
});

const cookie = () => ({ Cookie: `${s.cookie}=${s.token}` });

describe("token", () => {
  it("is printed in a URL on 127.0.0.1, and is long and random", () => {
    expect(s.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${s.port}/\\?token=[A-Za-z0-9_-]{43}$`));
  });

  it("is swapped for an HttpOnly SameSite=Strict cookie and a redirect to the URL without it", async () => {
    const r = await http(s.port, `/?token=${s.token}`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe("/");
    const set = r.headers["set-cookie"]?.[0] ?? "";
    expect(set).toContain(`llmdbg_token_${s.port}=${s.token}`);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\//);
    const page = await http(s.port, "/", { headers: cookie() });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<p>ui</p>");
  });

  it("redirects within this site only, and keeps other query parameters", async () => {
    const r = await http(s.port, `//evil.example/x?a=1&token=${s.token}`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe("/x?a=1");
  });

  it("a cookie for another port (another llmdbg server) is no token", async () => {
    const other = { Cookie: `llmdbg_token_${s.port + 1}=${s.token}` };
    expect((await http(s.port, "/api/models", { headers: other })).status).toBe(401);
  });

  it("wrong token in the URL → 403, no cookie", async () => {
    const r = await http(s.port, "/?token=nope");
    expect(r.status).toBe(403);
    expect(r.headers["set-cookie"]).toBeUndefined();
  });

  it("no token → 401, a wrong one → 403, on every route", async () => {
    for (const path of ["/", "/api/models", "/assets/app.js", "/api/jobs/00000000-0000-0000-0000-000000000000"]) {
      expect((await http(s.port, path)).status).toBe(401);
      expect((await http(s.port, path, { headers: { Cookie: `${s.cookie}=wrong` } })).status).toBe(403);
      expect((await http(s.port, path, { headers: { Authorization: `Bearer ${s.token}x` } })).status).toBe(403);
    }
    expect((await http(s.port, "/api/models", { method: "DELETE" })).status).toBe(401);
  });

  it("the bearer header and the cookie both open the API", async () => {
    for (const headers of [bearer(s), cookie()]) {
      const r = await http(s.port, "/api/models", { headers });
      expect(r.status).toBe(200);
      const { models } = JSON.parse(r.body);
      expect(models.map((m: { id: string }) => m.id)).toEqual(["tiny"]);
      // the browser never sees where the model lives
      expect(r.body).not.toContain(tiny.dir);
    }
  });

  it("sends the security headers and no CORS header", async () => {
    const r = await http(s.port, "/api/models", { headers: bearer(s) });
    expect(r.headers["content-security-policy"]).toMatch(/default-src 'self'/);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    expect(r.headers["x-frame-options"]).toBe("DENY");
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    expect((await http(s.port, "/")).headers["x-frame-options"]).toBe("DENY");
  });
});

describe("Host and Origin", () => {
  it("a foreign Host (DNS rebinding) → 403 even with the token", async () => {
    for (const host of ["evil.example", `evil.example:${s.port}`, "127.0.0.1", `127.0.0.1:${s.port + 1}`]) {
      const r = await http(s.port, "/api/models", { headers: { ...bearer(s), Host: host } });
      expect(r.status, host).toBe(403);
    }
    for (const host of [`localhost:${s.port}`, `127.0.0.1:${s.port}`, `[::1]:${s.port}`]) {
      const r = await http(s.port, "/api/models", { headers: { ...bearer(s), Host: host } });
      expect(r.status, host).toBe(200);
    }
  });

  it("a POST from a foreign Origin → 403", async () => {
    const r = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...cookie(), Origin: "http://evil.example", "Content-Type": "application/json" },
      body: JSON.stringify({ id: 1, method: "models.list" }),
    });
    expect(r.status).toBe(403);
    const ok = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...cookie(), Origin: `http://127.0.0.1:${s.port}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id: 1, method: "models.list" }),
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).result.kind).toBe("models");
  });

  it("a WebSocket upgrade from a foreign Origin, a foreign Host, or without the cookie is refused", async () => {
    await expect(Client.open(s, { ...cookie(), Origin: "http://evil.example" })).rejects.toThrow(/403/);
    await expect(Client.open(s, { ...cookie(), Origin: "null" })).rejects.toThrow(/403/);
    await expect(Client.open(s, { ...cookie(), Host: "evil.example" })).rejects.toThrow(/403/);
    await expect(Client.open(s, {})).rejects.toThrow(/401/);
    await expect(Client.open(s, { Cookie: `${s.cookie}=wrong` })).rejects.toThrow(/403/);
    const c = await Client.open(s, { ...cookie(), Origin: `http://localhost:${s.port}` });
    expect(final(await c.call(1, "models.list")).kind).toBe("result");
    c.close();
  });
});

describe("static files", () => {
  it("serve inside the folder, never outside", async () => {
    expect((await http(s.port, "/assets/app.js", { headers: cookie() })).body).toBe("console.log(1)");
    const attempts = [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E%2Fsecret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/%252e%252e/secret.txt",
      "/..%5csecret.txt",
      "/assets/..%2f..%2fsecret.txt",
      `/${tiny.dir}/secret.txt`,
      `//${tiny.dir.slice(1)}/secret.txt`,
      "/escape.txt",
      "/up/secret.txt",
      "/%00index.html",
      "/nothing-here.js",
    ];
    for (const path of attempts) {
      const r = await http(s.port, path, { headers: cookie() });
      expect([400, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain("SECRET");
    }
  });
});

describe("methods", () => {
  it("only GET, HEAD and POST /api/rpc (as JSON) are answered", async () => {
    const head = await http(s.port, "/api/models", { method: "HEAD", headers: cookie() });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    for (const method of ["PUT", "DELETE", "PATCH"])
      expect((await http(s.port, "/api/models", { method, headers: cookie() })).status, method).toBe(405);
    expect((await http(s.port, "/api/models", { method: "POST", headers: cookie(), body: "{}" })).status).toBe(405);
    // a form post (what a foreign page can send without CORS) is not JSON
    const form = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...cookie(), "Content-Type": "text/plain" },
      body: JSON.stringify({ id: 1, method: "models.list" }),
    });
    expect(form.status).toBe(415);
  });
});

describe("odd requests", () => {
  /** Sends raw bytes and resolves with the response's status line. */
  function raw(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = connect(s.port, "127.0.0.1", () => sock.write(request));
      let got = "";
      sock.on("data", (c) => (got += c));
      sock.on("close", () => resolve(got.split("\r\n")[0] ?? ""));
      sock.on("error", reject);
    });
  }

  it("a request target that is not a URL is a 400, on HTTP and on an upgrade, and the server goes on", async () => {
    const host = `Host: 127.0.0.1:${s.port}\r\nCookie: ${s.cookie}=${s.token}\r\nConnection: close`;
    expect(await raw(`GET http://[ HTTP/1.1\r\n${host}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 (400|404)/);
    const upgrade = `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==`;
    const up = await raw(
      `GET http://[ HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nCookie: ${s.cookie}=${s.token}\r\nConnection: Upgrade\r\n${upgrade}\r\n\r\n`,
    );
    expect(up).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect((await http(s.port, "/api/models", { headers: cookie() })).status).toBe(200);
  });
});

describe("size caps", () => {
  it("an oversized body → 413", async () => {
    const body = JSON.stringify({ id: 1, method: "models.list", params: { pad: "x".repeat(4000) } });
    const r = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...bearer(s), "Content-Type": "application/json" },
      body,
    });
    expect(r.status).toBe(413);
  });

  it("an oversized WebSocket message closes the socket with 1009", async () => {
    const c = await Client.open(s);
    const closed = new Promise<number>((resolve) => c.ws.once("close", (code) => resolve(code)));
    c.ws.send(JSON.stringify({ id: 1, method: "models.list", params: { pad: "x".repeat(10_000) } }));
    expect(await closed).toBe(1009);
  });
});

describe("models by id", () => {
  it("a request naming a filesystem path is refused", async () => {
    const c = await Client.open(s);
    for (const [i, model] of [tiny.model, "../gpt2", "./gpt2", "C:\\models\\x"].entries()) {
      const r = final(await c.call(i, "run", { model, input: { ids: [1, 2] } }));
      expect(r).toMatchObject({ kind: "error", code: "unknown_model" });
      if (r.kind === "error") expect(r.message).toMatch(/never by a filesystem path/);
    }
    c.close();
  });
});

describe("binding", () => {
  it("refuses a non-loopback address without allowHost, and warns with it", async () => {
    await expect(serve(tiny.model, { host: "0.0.0.0" })).rejects.toThrow(/allowHost/);
    const warnings: string[] = [];
    const open = await serve(tiny.model, { host: "0.0.0.0", allowHost: true, warn: (m) => warnings.push(m) });
    try {
      expect(warnings.join("\n")).toMatch(/WARNING: listening on 0\.0\.0\.0/);
      expect((await http(open.port, "/api/models", { headers: bearer(open) })).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
