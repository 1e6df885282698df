// Builds the bundles once before the integration and bed tests (the CLI tests run
// bin/ecr-token-rotator.mjs, the bundle tests read them) into a temporary directory named by
// ECR_ROTATOR_DIST, which the test processes inherit: the clone's dist/ — which a CLI from this
// clone may be running from — is never deleted or rewritten by a test run. The unit tests need no
// build. It also records what dist/ held before, so a test can prove it untouched.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { snapshotDir, type DirSnapshot } from "./support/dir-snapshot";

declare module "vitest" {
  export interface ProvidedContext {
    /** dist/ of the clone as the global set-up found it (before building). */
    distBefore: DirSnapshot;
  }
}

/** Set by the first project's set-up; the other projects reuse its build. */
const BUILT = "ECR_ROTATOR_TEST_BUILT";

export default function setup(project: TestProject): (() => void) | undefined {
  project.provide("distBefore", snapshotDir("dist"));
  if (process.env[BUILT] && process.env.ECR_ROTATOR_DIST) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "ecr-token-rotator-dist-"));
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit", env: { ...process.env, ECR_ROTATOR_DIST: dir } });
  process.env.ECR_ROTATOR_DIST = dir;
  process.env[BUILT] = "1";
  return () => rmSync(dir, { recursive: true, force: true });
}
