// The web UI's build: one page, its script and styles as files (the server's CSP allows nothing inline).
// TSX goes through Vite's own transform with React's automatic runtime; no React plugin is needed.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false, assetsInlineLimit: 0 },
  oxc: { jsx: { runtime: "automatic" } },
});
