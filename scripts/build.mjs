// Bundles the Lambda handler, the CLI and the demo with esbuild (ESM, node22).
// The handler is split: the Kubernetes step loads only when a Kubernetes path runs.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { nodeBundleOptions, splitOptions } from "./esbuild-options.mjs";

const common = { ...nodeBundleOptions, ...splitOptions, metafile: true };

rmSync("dist", { recursive: true, force: true });
const handler = await build({ ...common, entryPoints: { rotate: "handlers/rotate.ts" }, outdir: "dist/handler", chunkNames: "chunks/[name]-[hash]" });
await build({ ...common, entryPoints: { cli: "src/cli/main.ts", demo: "scripts/demo.ts" }, outdir: "dist", chunkNames: "cli-chunks/[name]-[hash]" });

if (process.argv.includes("--verbose")) {
  for (const [file, info] of Object.entries(handler.metafile.outputs)) console.log(file, info.bytes);
}
