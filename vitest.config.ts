/**
 * Three projects, by what a test needs (`npm run test:unit`, `test:integration`, `test:bed`;
 * `npm test` runs all three in one run, so .ci/run gets one report):
 *   unit         test/unit: in-process only — no server, no child process, no build, fake timers
 *                for time. It runs in worker threads without per-file isolation (modules are
 *                loaded once per worker — about a sixth of the time), so a unit test must leave no
 *                global behind: restore SDK mocks (`afterAll(() => mock.restore())`), env, timers.
 *   bed          every test that starts the test bed (kube-apiserver + etcd, test/bed): the files
 *                under test/bed and any test that imports test/bed, directly or through a helper.
 *   integration  the rest: moto, local HTTPS stubs, the CLI and the bundles in child processes,
 *                packaging, the Lambda runtime emulator.
 * The integration and bed projects share one build of the bundles into a temporary directory
 * (test/global-setup.ts); the clone's dist/ is never touched by a test run.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { configDefaults, defineConfig } from "vitest/config";

const BED_ENTRY = resolve("test/bed/index.ts");
const IMPORT = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

/** Whether `file` reaches test/bed/index.ts through its relative imports. */
function reachesBed(file: string, seen = new Set<string>()): boolean {
  if (file === BED_ENTRY) return true;
  if (seen.has(file)) return false;
  seen.add(file);
  for (const [, spec] of readFileSync(file, "utf8").matchAll(IMPORT)) {
    const base = resolve(dirname(file), spec!);
    const target = [base, `${base}.ts`, join(base, "index.ts")].find((p) => p.endsWith(".ts") && existsSync(p));
    if (target && reachesBed(target, seen)) return true;
  }
  return false;
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith(".test.ts") ? [path] : [];
  });
}

const bedTests = testFiles("test")
  .filter((f) => !f.startsWith(join("test", "unit")) && reachesBed(resolve(f)))
  .sort();

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"], pool: "threads", isolate: false } },
      { extends: true, test: { name: "bed", include: bedTests, globalSetup: ["test/global-setup.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/unit/**", ...bedTests],
          globalSetup: ["test/global-setup.ts"],
        },
      },
    ],
  },
});
