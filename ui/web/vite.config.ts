import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The UI is served by `runyard server` from its own origin; `npm run dev` proxies the API to a
// daemon on RUNYARD_SERVER (default http://127.0.0.1:8080).
export default defineConfig({
  plugins: [react()],
  build: { target: "es2022", chunkSizeWarningLimit: 5000, reportCompressedSize: false },
  server: {
    proxy: { "/api": process.env.RUNYARD_SERVER ?? "http://127.0.0.1:8080" },
  },
});
