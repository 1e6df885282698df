/**
 * The documented install (issue 20, item 10): `npm run pack:cli` makes a tarball with no
 * dependencies, `npm install -g` of it puts `ecr-token-rotator` on PATH (offline: no registry is
 * asked), and the command runs under Node.js 22 even when the first `node` on PATH is older —
 * without the AWS SDK's Node version warning — or says in one line that no Node.js 22 was found.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "cli-install-"));
const prefix = join(dir, "prefix");
const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

/** An older Node.js on this machine (the system's), if there is one. */
function olderNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"]) {
    if (!existsSync(candidate)) continue;
    const v = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
    if (Number(v.split(".")[0]) < 22) return candidate;
  }
  return undefined;
}
const old = olderNode();

function run(command: string, args: string[], path: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { PATH: path.join(":"), HOME: dir } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(() => {
  const out = execFileSync(process.execPath, ["scripts/pack-cli.mjs", "--out", dir], { encoding: "utf8" }).trim().split("\n");
  const tarball = out[out.length - 1]!;
  // --offline: the tarball must install with no registry at all.
  execFileSync("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", tarball], {
    env: { ...process.env, npm_config_cache: join(dir, "npm-cache") },
    stdio: "pipe",
  });
  if (old) {
    mkdirSync(join(dir, "old-node"));
    symlinkSync(old, join(dir, "old-node", "node"));
  }
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm install -g of the packed CLI", () => {
  it("puts ecr-token-rotator on PATH; the installed package has no dependencies", async () => {
    const installed = JSON.parse(readFileSync(join(prefix, "lib/node_modules/ecr-token-rotator/package.json"), "utf8"));
    expect(installed.dependencies).toBeUndefined();
    expect(installed.version).toBe(version);
    const out = await run("ecr-token-rotator", ["--version"], [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"]);
    expect(out).toMatchObject({ code: 0, stdout: `ecr-token-rotator ${version} (node ${process.versions.node})\n`, stderr: "" });
  });

  it.skipIf(old === undefined)("with an older node first on PATH it runs under the Node.js 22 found later, with no warning", async () => {
    const out = await run("ecr-token-rotator", ["--version"], [join(dir, "old-node"), join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"]);
    expect(out).toMatchObject({ code: 0, stdout: `ecr-token-rotator ${version} (node ${process.versions.node})\n`, stderr: "" });
    const help = await run("ecr-token-rotator", ["rotate", "--help"], [join(dir, "old-node"), join(prefix, "bin"), dirname(process.execPath)]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: ecr-token-rotator rotate/);
  });

  it.skipIf(old === undefined)("with no Node.js 22 to be found it says so in one line (exit 2)", async () => {
    const out = await run("ecr-token-rotator", ["--version"], [join(dir, "old-node"), join(prefix, "bin")]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(out.stderr).toMatch(/^ecr-token-rotator: needs Node\.js 22\.12 or newer, and this is Node\.js \d+\.[\d.]+ \(.+\); no Node\.js 22 was found/);
  });
});
