/**
 * The doctor as an operator meets it: the CLI command (usage, exit codes, the checklist and
 * --json), the manual payload's validation, the text rendering, PROBE_IMAGE's validation, and the
 * Lambda handler returning a doctor Report with failed checks instead of throwing. The AWS SDK is
 * mocked; the registry is a stub of the doctor's request function. No output carries the token.
 */
import { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { DescribeSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createHandler } from "../../handlers/rotate";
import { runCli } from "../../src/cli/main";
import { loadConfig } from "../../src/config/config";
import { parseProbeImage } from "../../src/formats/image-reference";
import { formatChecks } from "../../src/report/checks";
import { formatReport, type Report } from "../../src/report/report";
import { classifyEvent, parseManualRequest } from "../../src/request/triggers";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { registrySecretValue } from "../../src/rotation/secret-payload";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { powertoolsTelemetry } from "../../src/run/telemetry";
import { BadRequestError } from "../../src/shared/errors";
import { mockAwsSdk, OWNED_TAGS } from "../support/aws-fakes";
import { authorizationData, EXPIRES, HOST_USE1, NOW, PASSWORD, RAW_TOKEN, secretNeedles, USERNAME } from "../support/fixtures";

/** The registry's answer to `GET /v2/` (the stub stands in for node:https). */
const registry = vi.hoisted(() => ({ login: 200, pull: 200 }));
vi.mock("../../src/doctor/registry-http", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/doctor/registry-http")>();
  return {
    ...original,
    httpsRegistryRequest: () => async (input: { method: string }) => ({ status: input.method === "GET" ? registry.login : registry.pull }),
  };
});

const { ecr, sm } = mockAwsSdk();
const sts = mockClient(STSClient);
const SECRET = "prod/ecr/credentials";
const ENV = { AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, SECRET_NAME: SECRET, PROBE_IMAGE: "team/app:1" };

beforeEach(() => {
  ecr.reset();
  sm.reset();
  sts.reset();
  registry.login = 200;
  registry.pull = 200;
  ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1")] });
  sts.on(GetCallerIdentityCommand).resolves({ Arn: "arn:aws:iam::123456789012:user/ops", Account: "123456789012" });
  sm.on(DescribeSecretCommand).resolves({
    ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${SECRET}`,
    Tags: OWNED_TAGS,
    VersionIdsToStages: { v1: ["AWSCURRENT"] },
  });
  sm.on(GetSecretValueCommand).resolves({
    SecretString: JSON.stringify(
      registrySecretValue({
        registry: parseRegistryHost(HOST_USE1),
        username: USERNAME,
        password: PASSWORD,
        expiresAt: EXPIRES,
        proxyEndpoint: `https://${HOST_USE1}`,
      }),
    ),
  });
});

async function cli(args: string[], env: Record<string, string> = ENV) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { env, stdout: (t) => void (stdout += `${t}\n`), stderr: (t) => void (stderr += `${t}\n`), readStdin: async () => "" });
  return { code, stdout, stderr };
}

function expectNoSecret(text: string): void {
  for (const needle of [...secretNeedles(), RAW_TOKEN]) expect(text).not.toContain(needle);
}

describe("ecr-token-rotator doctor", () => {
  it("a healthy deployment: the checklist, a summary line, exit 0", async () => {
    const out = await cli(["doctor", "--now", NOW.toISOString()]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/^doctor: account 123456789012, region us-east-1; secret prod\/ecr\/credentials; no cluster/);
    const lines = out.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^OK {2}action=doctor trigger=cli {2}\d+ ms, 1 ECR call$/);
    expect(lines).toContain("PASS  aws identity — arn:aws:iam::123456789012:user/ops (account 123456789012)");
    expect(lines).toContain(`PASS  registry login ${HOST_USE1} — GET https://${HOST_USE1}/v2/ with the us-east-1 token: 200`);
    expect(lines).toContain("SKIP  secret kms prod/ecr/credentials — KMS_KEY_ID is not set: the secrets use the AWS managed key aws/secretsmanager");
    expect(lines.at(-1)).toBe("7 passed, 0 failed, 4 skipped");
    expect(out.stdout).not.toContain("fix:");
    expectNoSecret(out.stdout + out.stderr);
  });

  it("a failed check: FAIL with its fix underneath, no repeated error line, exit 1; --json gives the Report with checks", async () => {
    registry.login = 401;
    const out = await cli(["doctor", "--now", NOW.toISOString()]);
    expect(out.code).toBe(1);
    const lines = out.stdout.trim().split("\n");
    const at = lines.findIndex((l) => l.startsWith(`FAIL  registry login ${HOST_USE1} — `));
    expect(lines[at + 1]).toMatch(/^ {6}fix: an ECR token is valid only for registries of the region/);
    expect(lines).toContain(
      `SKIP  registry pull ${HOST_USE1}/team/app:1 — "registry login ${HOST_USE1}" did not pass: pull rights are checked with a token the registry accepts`,
    );
    expect(out.stdout).not.toMatch(/^error:/m);
    expect(lines.at(-1)).toBe("5 passed, 1 failed, 5 skipped");

    const json = await cli(["doctor", "--json", "--now", NOW.toISOString()]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as Report;
    expect(report).toMatchObject({ ok: false, action: "doctor", errors: [expect.stringMatching(/^registry login .*: the registry refused the token/)] });
    const failed = report.checks!.find((c) => c.status === "fail")!;
    expect(Object.keys(failed).sort()).toEqual(["detail", "fix", "name", "status"]);
    expect(report.checks!.filter((c) => c.status !== "fail").every((c) => c.fix === undefined)).toBe(true);
    expectNoSecret(out.stdout + out.stderr + json.stdout + json.stderr);
  });

  it.each([
    [["doctor", "--dry-run"], /doctor is read-only: --dry-run and --force do not apply/],
    [["doctor", "--force"], /doctor is read-only/],
    [["doctor", "--registry", HOST_USE1], /--registry is not an option of doctor/],
    [["doctor", "--namespace", "payments"], /--namespace is not an option of doctor/],
    [["doctor", "--create"], /--create is not an option of doctor/],
    [["doctor", "--cluster", "prod"], /cluster prod not configured/],
    [["doctor", "--now", "yesterday"], /--now "yesterday" is not an ISO-8601 instant/],
  ])("%j → exit 2 with a precise message", async (args, message) => {
    const out = await cli(args);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
  });

  it("a bad PROBE_IMAGE is a configuration error (exit 2), naming the variable", async () => {
    const out = await cli(["doctor"], { ...ENV, PROBE_IMAGE: `${HOST_USE1}/team/app:1` });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/PROBE_IMAGE: .* starts with a registry host: give the repository only/);
  });

  it("the usage text lists doctor and its options", async () => {
    const out = await cli(["--help"]);
    expect(out.stdout).toMatch(/doctor\s+is this deployment wired right\?/);
  });
});

describe("the doctor's manual payload", () => {
  it('{"action":"doctor"} and its clusters are accepted; anything else is refused by name', () => {
    expect(parseManualRequest({ action: "doctor" })).toMatchObject({ action: "doctor", trigger: { kind: "manual" } });
    expect(parseManualRequest({ action: "doctor", clusters: ["prod"] }).clusters).toEqual(["prod"]);
    expect(() => parseManualRequest({ action: "doctor", dryRun: true })).toThrow(/dryRun does not apply to "doctor" \(it takes only clusters\)/);
    expect(() => parseManualRequest({ action: "doctor", force: false, registries: [HOST_USE1], namespaces: ["a"] })).toThrow(
      /force, registries, namespaces do not apply to "doctor"/,
    );
    expect(() => parseManualRequest({ action: "doctor", source: "schedule" })).toThrow(/a schedule may only ask for action "rotate"/);
    expect(() => parseManualRequest({ action: "doctor", verbose: true })).toThrow(BadRequestError);
    expect(() => classifyEvent({ something: 1 })).toThrow(/"rotate"\|"heal"\|"diagnose"\|"doctor"/);
  });
});

describe("PROBE_IMAGE", () => {
  it.each([
    ["team/app:1", { repository: "team/app", reference: "1" }],
    ["app:v1.2_3", { repository: "app", reference: "v1.2_3" }],
    [`a/b/c@sha256:${"0".repeat(64)}`, { repository: "a/b/c", reference: `sha256:${"0".repeat(64)}` }],
  ])("%s parses", (text, expected) => {
    expect(parseProbeImage(text)).toMatchObject({ ...expected, text });
  });

  it.each([
    ["team/app", /has no tag or digest/],
    ["Team/App:1", /lower-case path components/],
    ["localhost/app:1", /starts with a registry host/],
    ["team/app@sha256:abc", /a digest is sha256: and 64/],
    ["team/app:-x", /the tag must be/],
  ])("%s is refused", (text, message) => {
    expect(() => parseProbeImage(text)).toThrow(message);
  });

  it("is read by loadConfig and offered as a variable (a typo is warned about)", () => {
    expect(loadConfig({ ...ENV }).probeImage).toMatchObject({ repository: "team/app", reference: "1" });
    expect(() => loadConfig({ ...ENV, PROBE_IMAGE: "app" })).toThrow(/PROBE_IMAGE: "app" has no tag or digest/);
    expect(loadConfig({ ...ENV, PROBE_IMAGES: "x:1" }).warnings).toEqual([expect.stringMatching(/PROBE_IMAGES .* did you mean PROBE_IMAGE\?/)]);
  });
});

describe("the checklist rendering", () => {
  const checks = [
    { name: "aws identity", status: "pass" as const, detail: "arn:aws:iam::123456789012:user/ops" },
    { name: "secret owned s", status: "fail" as const, detail: "it lacks the tag", fix: "tag it" },
    { name: "secret kms s", status: "skip" as const, detail: "KMS_KEY_ID is not set" },
  ];

  it("PASS|FAIL|SKIP  name — detail, fix under each failure, then the summary", () => {
    expect(formatChecks(checks)).toEqual([
      "PASS  aws identity — arn:aws:iam::123456789012:user/ops",
      "FAIL  secret owned s — it lacks the tag",
      "      fix: tag it",
      "SKIP  secret kms s — KMS_KEY_ID is not set",
      "1 passed, 1 failed, 1 skipped",
    ]);
  });

  it("on a terminal, long lines are wrapped under their text", () => {
    const long = [{ name: "registry pull h/r:1", status: "fail" as const, detail: "word ".repeat(30).trim(), fix: "fix ".repeat(30).trim() }];
    const lines = formatChecks(long, 60);
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(lines[1]).toMatch(/^ {6}word/);
    expect(lines.find((l) => l.startsWith("      fix: "))).toBeDefined();
  });

  it("formatReport of a doctor Report is the header, then the checklist", () => {
    const report: Report = {
      ok: false,
      action: "doctor",
      trigger: { kind: "manual", via: "cli" },
      dryRun: false,
      force: false,
      startedAt: NOW.toISOString(),
      durationMs: 12,
      ecrCalls: 1,
      registries: [],
      tokenSecondsRemaining: null,
      checks,
      errors: ["secret owned s: it lacks the tag"],
    };
    expect(formatReport(report).split("\n")).toEqual(["FAILED  action=doctor trigger=cli  12 ms, 1 ECR call", ...formatChecks(checks)]);
  });
});

describe("the Lambda handler and the doctor", () => {
  let captured = "";
  const originalStdout = process.stdout.write.bind(process.stdout);
  const originalStderr = process.stderr.write.bind(process.stderr);
  beforeAll(() => {
    const capture = ((chunk: string | Uint8Array) => {
      captured += chunk.toString();
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
  });
  afterAll(() => {
    process.stdout.write = originalStdout;
    process.stderr.write = originalStderr;
  });

  it("returns the Report of a doctor whose checks failed (a finding, not a failed invocation); logs a warning and DoctorChecksFailed", async () => {
    captured = "";
    sm.on(DescribeSecretCommand).resolves({ ARN: "arn:x", Tags: [], VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    const config = loadConfig(ENV);
    const { createDoctorStep } = await import("../../src/doctor/doctor");
    const handler = createHandler(
      () => ({
        config,
        deps: {
          ecr: sdkEcrApi(),
          secrets: sdkSecretsManagerApi("us-east-1"),
          now: () => NOW,
          tokenNow: () => NOW,
          doctor: async () => createDoctorStep(config),
        },
      }),
      powertoolsTelemetry,
    );
    const report = await handler({ action: "doctor" });
    expect(report).toMatchObject({ ok: false, action: "doctor", errors: [expect.stringMatching(/^secret owned prod\/ecr\/credentials: /)] });
    const lines = captured
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.message === "invocation summary")).toMatchObject({ level: "WARN", checksFailed: [`secret owned ${SECRET}`] });
    expect(lines.find((l) => "_aws" in l)).toMatchObject({ DoctorChecksFailed: 1 });
    expect(lines.find((l) => "_aws" in l)).not.toHaveProperty("RotationFailed");
    expectNoSecret(captured + JSON.stringify(report));
    // A rotation failure still throws.
    ecr.on(GetAuthorizationTokenCommand).rejects(new Error("AccessDenied"));
    await expect(handler({ action: "rotate" })).rejects.toThrow(/run failed/);
  });
});
