/**
 * `ecr-token-rotator doctor` as an operator runs it (bin/ecr-token-rotator.mjs → the CLI bundle)
 * on a machine with no AWS credentials at all: no AWS_ACCESS_KEY_ID, no profile, a fresh HOME (so
 * no ~/.aws is read), no instance metadata. One cause, one fix: `aws identity` is the only FAIL
 * line and the only fix; every check that needs the credentials is SKIPPED naming that cause —
 * not three FAIL lines with three unrelated IAM fixes. Exit 1 (a failed check).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { distEnv } from "../support/dist";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const home = mkdtempSync(join(tmpdir(), "doctor-no-credentials-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The CLI with only the deployment's configuration: no credential of any kind in reach. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["bin/ecr-token-rotator.mjs", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          ...distEnv(),
          HOME: home,
          AWS_CONFIG_FILE: join(home, "no-config"),
          AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_REGION: "us-east-1",
          ECR_REGISTRIES: USE1,
          SECRET_NAME: "ecr/{region}/credentials",
          PROBE_IMAGE: "demo/app:1",
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("ecr-token-rotator doctor without AWS credentials", () => {
  it("one FAIL line (aws identity) with one fix; every line that needs the credentials is skipped with that cause", async () => {
    const json = await cli(["doctor", "--json"]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as Report;
    const checks = report.checks!;
    expect(checks.map((c) => `${c.status} ${c.name}`)).toEqual([
      "fail aws identity",
      "skip ecr token us-east-1",
      `skip registry login ${USE1}`,
      `skip registry pull ${USE1}/demo/app:1`,
      ...["exists", "owned", "validity", "policy", "kms", "replicas"].map((area) => `skip secret ${area} ecr/us-east-1/credentials`),
      "skip clusters",
    ]);
    expect(checks[0]).toMatchObject({ detail: expect.stringContaining("CredentialsProviderError"), fix: expect.stringContaining("AWS_PROFILE") });
    expect(checks.filter((c) => c.fix !== undefined)).toHaveLength(1);
    for (const check of checks.slice(1, -1)) expect(check.detail).toBe("no AWS credentials: see aws identity");
    expect(report).toMatchObject({ ok: false, action: "doctor", ecrCalls: 0 });

    const text = await cli(["doctor"]);
    expect(text.code).toBe(1);
    expect(text.stdout.match(/^FAIL /gm)).toHaveLength(1);
    expect(text.stdout.match(/^ +fix: /gm)).toHaveLength(1);
    expect(text.stdout).toMatch(/^SKIP {2}ecr token us-east-1 — no AWS credentials: see aws identity$/m);
    expect(text.stdout).not.toMatch(/ecr:GetAuthorizationToken|secretsmanager:DescribeSecret/);
  });

  it("a named profile that does not exist is the same single cause", async () => {
    const { code, stdout } = await cli(["doctor", "--json"], { AWS_PROFILE: "no-such-profile" });
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(report.checks!.filter((c) => c.status === "fail").map((c) => c.name)).toEqual(["aws identity"]);
    expect(report.checks!.find((c) => c.name === "ecr token us-east-1")).toMatchObject({ status: "skip", detail: "no AWS credentials: see aws identity" });
  });
});
