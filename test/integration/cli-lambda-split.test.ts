/**
 * @aws-sdk/client-lambda (for `--function`) is loaded by the CLI only, and only when asked for:
 * the Lambda handler's bundle never contains it, and the CLI's entry loads it with `import()`.
 * Reads the bundles the suite's global setup builds (scripts/build.mjs into ECR_ROTATOR_DIST).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { distPath } from "../support/dist";
// @ts-expect-error plain ESM benchmark module without types
import { staticClosure } from "../../bench/rotate-path.mjs";

const LAMBDA_CLIENT = /com\.amazonaws\.lambda|AWSGirApiService/;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));

describe("the Lambda client stays out of the handler", () => {
  it("no file of the handler bundle (entry or any chunk) holds the Lambda client", () => {
    const handlerFiles = files(distPath("handler"));
    expect(handlerFiles.length).toBeGreaterThan(1);
    expect(handlerFiles.filter((f) => LAMBDA_CLIENT.test(readFileSync(f, "utf8")))).toEqual([]);
  });

  it("the CLI loads it in a chunk of its own, only through import()", () => {
    const eager = (staticClosure(distPath("cli.mjs")) as string[]).filter((f) => LAMBDA_CLIENT.test(readFileSync(f, "utf8")));
    expect(eager).toEqual([]);
    const lazy = files(distPath("cli-chunks")).filter((f) => LAMBDA_CLIENT.test(readFileSync(f, "utf8")));
    expect(lazy).toHaveLength(1);
    expect(lazy[0]).toMatch(/function-config-/);
    expect(readFileSync(lazy[0]!, "utf8")).toContain('"GetFunctionConfiguration"');
  });
});
