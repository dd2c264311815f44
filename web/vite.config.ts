import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dashboard builds into dist/app, which the Go binary embeds (web/embed.go). In development,
// `npx vite` serves it with the API proxied to a server on :3000.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist/app", emptyOutDir: true, assetsDir: "assets", chunkSizeWarningLimit: 1024 },
  server: { proxy: { "/api": { target: "http://127.0.0.1:3000", ws: true } } },
});
