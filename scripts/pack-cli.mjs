// npm run pack:cli [-- --out DIR]: the CLI as an npm tarball to install with
// `npm install -g ./ecr-token-rotator-<version>.tgz` — the command on PATH, no clone needed.
// The tarball holds the launcher, the self-contained bundle (dist/cli.mjs and its chunks) and the
// docs; its package.json has no dependencies (the bundle carries them), so the install needs no
// registry, except the optional `node` package (Node.js 22 for machines whose node is older),
// which an offline install leaves out. The CLI is bundled into the staging directory (the build's
// esbuild settings), so packing never rewrites the dist/ a CLI in this clone runs from.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { nodeBundleOptions, splitOptions } from "./esbuild-options.mjs";

const repo = resolve(import.meta.dirname, "..");
const at = process.argv.indexOf("--out");
const out = resolve(at > 0 ? process.argv[at + 1] : repo);

const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const stage = mkdtempSync(join(tmpdir(), "ecr-token-rotator-pack-"));
try {
  const entryPoints = { cli: join(repo, "src/cli/main.ts") };
  await build({ ...nodeBundleOptions, ...splitOptions, entryPoints, outdir: join(stage, "dist"), chunkNames: "cli-chunks/[name]-[hash]" });
  for (const path of ["bin", "docs", "README.md"]) cpSync(join(repo, path), join(stage, path), { recursive: true });
  const cli = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    private: true,
    type: "module",
    engines: pkg.engines,
    bin: pkg.bin,
    // The project's Node.js 22 (the same version the clone uses), for a machine whose node is older.
    optionalDependencies: { node: pkg.devDependencies.node },
  };
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(cli, null, 2)}\n`);
  const file = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: stage, encoding: "utf8" }).trim();
  process.stdout.write(`${join(out, file)}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
