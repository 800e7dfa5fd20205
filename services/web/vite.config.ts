// Vite builds the page into dist/ (served by the API at /); vitest runs test/*.test.ts.
// PROSPECTOR_API (dev server only) is where `npm run dev` forwards /api and /ws.
import { defineConfig } from "vitest/config";

const api = process.env.PROSPECTOR_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: { proxy: { "/api": api, "/ws": { target: api, ws: true } } },
  test: { include: ["test/**/*.test.ts"], setupFiles: ["test/setup.ts"], environment: "node" },
});
