// Bundles the Lambda handler, the CLI and the demo with esbuild (ESM, node22) into dist/, or into
// the directory ECR_ROTATOR_DIST names (the test suite builds into a temporary one, so running the
// tests never deletes or rewrites the dist/ a CLI from this clone runs from).
// The handler is split: the Kubernetes step loads only when a Kubernetes path runs.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { nodeBundleOptions, splitOptions } from "./esbuild-options.mjs";

const common = { ...nodeBundleOptions, ...splitOptions, metafile: true };
const outdir = resolve(process.env.ECR_ROTATOR_DIST || "dist");

rmSync(outdir, { recursive: true, force: true });
const handler = await build({ ...common, entryPoints: { rotate: "handlers/rotate.ts" }, outdir: join(outdir, "handler"), chunkNames: "chunks/[name]-[hash]" });
await build({ ...common, entryPoints: { cli: "src/cli/main.ts", demo: "scripts/demo.ts" }, outdir, chunkNames: "cli-chunks/[name]-[hash]" });

if (process.argv.includes("--verbose")) {
  for (const [file, info] of Object.entries(handler.metafile.outputs)) console.log(file, info.bytes);
}
