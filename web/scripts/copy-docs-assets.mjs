// Copies the Swagger UI assets that /api/v2/docs serves into the Go package that embeds them, so the
// API docs work on machines without internet access. Run by `npm run gen` (go tool task gen).
import { copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, "..", "node_modules", "swagger-ui-dist");
const to = join(here, "..", "..", "api", "docs", "assets");
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]) {
  copyFileSync(join(from, f), join(to, f));
}
