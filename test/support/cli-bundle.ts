import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { nodeBundleOptions, splitOptions } from "../../scripts/esbuild-options.mjs";

/**
 * The CLI bundled from src/cli/main.ts into a private directory (the build's esbuild settings), so
 * concurrent rebuilds of dist/ by other test runs cannot race a test. Returns a runner script.
 */
export async function bundleCli(outdir: string): Promise<string> {
  await build({ ...nodeBundleOptions, ...splitOptions, entryPoints: { cli: join(process.cwd(), "src/cli/main.ts") }, outdir });
  const runner = join(outdir, "run.mjs");
  writeFileSync(runner, 'import { main } from "./cli.mjs";\nawait main();\n');
  return runner;
}
