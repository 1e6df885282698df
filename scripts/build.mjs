// Bundles the Lambda handler and the CLI with esbuild (ESM, node22).
// The handler is split: the Kubernetes client and the EKS code load only when a Kubernetes step runs.
import { build } from "esbuild";
import { rmSync } from "node:fs";

const banner = { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" };
const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // Prefer the packages' ES module builds (the AWS SDK's dist-es): they tree-shake far better
  // than the CommonJS builds esbuild picks by default for platform "node" (measured: the ECR +
  // Secrets Manager clients shrink from 522 KB to 329 KB, import time −16 ms).
  mainFields: ["module", "main"],
  minify: true,
  sourcemap: false,
  banner,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
};

rmSync("dist", { recursive: true, force: true });
const handler = await build({
  ...common,
  entryPoints: { rotate: "handlers/rotate.ts" },
  outdir: "dist/handler",
  splitting: true,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
});
await build({ ...common, entryPoints: { cli: "src/cli.ts" }, outdir: "dist", splitting: true, outExtension: { ".js": ".mjs" }, chunkNames: "cli-chunks/[name]-[hash]" });

await build({ ...common, entryPoints: { demo: "scripts/demo.ts" }, outdir: "dist", splitting: true, outExtension: { ".js": ".mjs" }, chunkNames: "cli-chunks/[name]-[hash]" });

if (process.argv.includes("--verbose")) {
  for (const [file, info] of Object.entries(handler.metafile.outputs)) console.log(file, info.bytes);
}
