// Bundles every src/<name>.js (and src/<name>.css) into ../static/build/<name>.js|.css.
// Fonts and images referenced from CSS are copied next to the bundle. No CDN, no network at run time.
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const entryPoints = readdirSync(src)
  .filter((name) => /\.(js|css)$/.test(name) && !name.startsWith("_"))
  .map((name) => join(src, name));

await build({
  entryPoints,
  outdir: join(here, "..", "static", "build"),
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "linked",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file", ".png": "file" },
  logLevel: "info",
});
