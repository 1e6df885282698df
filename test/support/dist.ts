/**
 * Where the suite's bundles are: the global set-up (test/global-setup.ts) builds the handler and
 * the CLI into a temporary directory and names it in ECR_ROTATOR_DIST, which
 * bin/ecr-token-rotator.mjs reads — so a test run never touches the dist/ of the clone.
 */
import { join } from "node:path";

/** The bundle directory of this test run (throws where the global set-up did not run). */
export function distDir(): string {
  const dir = process.env.ECR_ROTATOR_DIST;
  if (!dir) throw new Error("ECR_ROTATOR_DIST is not set: this test needs the bundles the global set-up builds (test/global-setup.ts)");
  return dir;
}

/** A path inside the bundle directory, e.g. `distPath("handler", "rotate.mjs")`. */
export function distPath(...parts: string[]): string {
  return join(distDir(), ...parts);
}

/**
 * For the environment of a child process that runs bin/ecr-token-rotator.mjs: the test run's
 * bundle directory (empty outside a test run, e.g. a benchmark, where bin uses dist/).
 */
export function distEnv(): { ECR_ROTATOR_DIST?: string } {
  const dir = process.env.ECR_ROTATOR_DIST;
  return dir ? { ECR_ROTATOR_DIST: dir } : {};
}
