/**
 * The suite builds its bundles into a temporary directory (test/global-setup.ts →
 * ECR_ROTATOR_DIST), so a test run never deletes or rewrites the clone's dist/ — which a CLI from
 * this clone may be running from while the tests run.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { distDir, distEnv } from "../support/dist";
import { snapshotDir } from "../support/dir-snapshot";

describe("the test build", () => {
  it("leaves dist/ exactly as the run found it (same files, sizes and modification times, or still absent)", () => {
    expect(snapshotDir("dist")).toEqual(inject("distBefore"));
  });

  it("is a directory outside the clone holding the handler and the CLI", () => {
    const dir = distDir();
    expect(relative(process.cwd(), resolve(dir)).startsWith("..")).toBe(true);
    expect(existsSync(resolve(dir, "handler", "rotate.mjs"))).toBe(true);
    expect(existsSync(resolve(dir, "cli.mjs"))).toBe(true);
  });

  it("is what bin/ecr-token-rotator.mjs runs when ECR_ROTATOR_DIST names it, and a missing bundle is named", async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, ["bin/ecr-token-rotator.mjs", "--help"], { env: { PATH: process.env.PATH ?? "", ...env } }, (error, stdout, stderr) =>
          done({ code: error ? Number(error.code) : 0, stdout, stderr }),
        );
      });
    const ok = await run(distEnv());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ecr-token-rotator/);
    const missing = await run({ ECR_ROTATOR_DIST: resolve(distDir(), "nowhere") });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${resolve(distDir(), "nowhere", "cli.mjs")} is missing; run \`npm run build\` first`);
  });
});
