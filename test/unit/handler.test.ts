/**
 * The Lambda handler end to end with the SDK mocked and the real Powertools telemetry: every
 * path (success, each error) is run, and ALL captured output (stdout, stderr), every returned
 * Report and every thrown error is searched for the secret in each of its renderings.
 */
import { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { loadConfig } from "../../src/config/config";
import type { App } from "../../src/app/app";
import { mockAwsSdk, OWNED_TAGS, secretNotFound } from "../support/aws-fakes";
import { authorizationData, HOST_USE1, NOW, PASSWORD, RAW_TOKEN, secretNeedles } from "../support/fixtures";

const { ecr, sm } = mockAwsSdk();
const OWNED = OWNED_TAGS;

let captured = "";
const originalStdout = process.stdout.write.bind(process.stdout);
const originalStderr = process.stderr.write.bind(process.stderr);
beforeAll(() => {
  process.env.POWERTOOLS_METRICS_NAMESPACE = "EcrTokenRotator";
  process.stdout.write = (chunk: string | Uint8Array) => {
    captured += chunk.toString();
    return true;
  };
  process.stderr.write = (chunk: string | Uint8Array) => {
    captured += chunk.toString();
    return true;
  };
  void originalStdout;
});
afterAll(() => {
  process.stdout.write = originalStdout;
  process.stderr.write = originalStderr;
});

function app(env: Record<string, string> = {}): () => App {
  return () => ({
    config: loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, SECRET_NAME: "production/ecr/credentials", ...env }),
    deps: { ecr: sdkEcrApi(), secrets: sdkSecretsManagerApi("us-east-1"), now: () => NOW },
  });
}

const everything: unknown[] = [];
async function invoke(event: unknown, factory = app()): Promise<{ ok: boolean; result?: unknown; error?: Error }> {
  const handler = createHandler(factory);
  try {
    const result = await handler(event);
    everything.push(result);
    return { ok: true, result };
  } catch (error) {
    everything.push({ message: (error as Error).message, stack: (error as Error).stack, report: (error as { report?: unknown }).report });
    return { ok: false, error: error as Error };
  }
}

const manual = { action: "rotate" };
const alarmInto = (value: string, previous: string) => ({
  source: "aws.cloudwatch",
  alarmArn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:image-pull-failures",
  accountId: "123456789012",
  time: NOW.toISOString(),
  region: "us-east-1",
  alarmData: {
    alarmName: "image-pull-failures",
    state: { value, reason: "threshold", timestamp: NOW.toISOString() },
    previousState: { value: previous, reason: "", timestamp: "" },
    configuration: { metrics: [] },
  },
});

beforeEach(() => {
  ecr.reset();
  sm.reset();
  ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1")] });
});

describe("handler paths", () => {
  it("success: creates the secret, logs one summary line and emits EMF metrics", async () => {
    captured = "";
    sm.on(DescribeSecretCommand).rejects(secretNotFound("not found"));
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const out = await invoke(manual);
    expect(out.ok).toBe(true);
    expect(out.result).toMatchObject({ ok: true, registries: [{ outcome: "created" }] });
    const lines = captured
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.message === "invocation summary")).toHaveLength(1);
    const emf = lines.find((l) => "_aws" in l)!;
    expect(emf).toMatchObject({ RotationSucceeded: 1, SecretsWritten: 1, TokenSecondsRemaining: 12 * 3600, service: "ecr-token-rotator" });
  });

  it("update, debounce, dry run, scheduled event and alarm heal all succeed", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ registry_url: HOST_USE1, auth_token: "old-password", expires_at: new Date(NOW.getTime() + 11 * 3600_000).toISOString() }),
      VersionId: "v0",
      CreatedDate: new Date(NOW.getTime() - 60_000),
    });
    sm.on(PutSecretValueCommand).resolves({ VersionId: "v1" });
    expect((await invoke({ action: "rotate", force: true })).result).toMatchObject({ registries: [{ outcome: "updated" }] });
    expect((await invoke(manual)).result).toMatchObject({ registries: [{ outcome: "debounced" }] });
    expect((await invoke({ action: "rotate", dryRun: true, force: true })).result).toMatchObject({ dryRun: true, registries: [{ outcome: "would-update" }] });
    expect(
      (
        await invoke({
          version: "0",
          id: "1",
          "detail-type": "Scheduled Event",
          source: "aws.events",
          account: "123456789012",
          time: NOW.toISOString(),
          region: "us-east-1",
          resources: [],
          detail: {},
        })
      ).ok,
    ).toBe(true);
    const heal = await invoke(alarmInto("ALARM", "OK"));
    expect(heal.result).toMatchObject({ action: "heal", trigger: { kind: "alarm", alarmName: "image-pull-failures" }, kubernetes: { mode: "skipped" } });
  });

  it("an alarm going back to OK is ignored: no AWS call", async () => {
    const out = await invoke(alarmInto("OK", "ALARM"));
    expect(out.result).toMatchObject({ ok: true, action: "none", ignored: expect.stringContaining("went to OK") });
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
  });

  it("failures throw after reporting: foreign secret, non-JSON value, expired token, ECR denied, Secrets Manager error echoing the value", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: [], VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    const foreign = await invoke(manual);
    expect(foreign.ok).toBe(false);
    expect(foreign.error!.message).toContain("left untouched");

    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: `not json ${PASSWORD}`, VersionId: "v0", CreatedDate: new Date(0) });
    expect((await invoke(manual)).error!.message).toContain("not JSON");

    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1", { expiresAt: new Date(NOW.getTime() - 1) })] });
    expect((await invoke(manual)).error!.message).toContain("already expired");

    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(Object.assign(new Error("not authorized to perform: ecr:GetAuthorizationToken"), { name: "AccessDeniedException" }));
    expect((await invoke(manual)).error!.message).toContain("AccessDeniedException");

    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1")] });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ registry_url: HOST_USE1, auth_token: "old" }),
      VersionId: "v0",
      CreatedDate: new Date(0),
    });
    // A remote error that echoes the request (worst case): the secret must still not escape.
    sm.on(PutSecretValueCommand).rejects(
      Object.assign(new Error(`ValidationException: bad SecretString ${PASSWORD} ${RAW_TOKEN}`), { name: "ValidationException" }),
    );
    const echoed = await invoke(manual);
    expect(echoed.error!.message).toContain("[redacted]");
  });

  it("bad input is rejected with a specific message and changes nothing", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ action: "rotate", dryrun: true }, /unknown field "dryrun"/],
      [{ action: "explode" }, /action must be one of/],
      [{ action: "rotate", force: "yes" }, /force must be a boolean/],
      [{ hello: PASSWORD }, /unsupported event: got an object with keys "hello"/],
      ["rotate", /unsupported event: got a string/],
      [{ "detail-type": "Object Created", source: "aws.s3", detail: {} }, /unsupported EventBridge event/],
      [{ Records: [{ EventSource: "aws:sns", Sns: { Message: `{"password":"${PASSWORD}"}` } }] }, /not a CloudWatch alarm notification/],
    ];
    for (const [event, message] of cases) {
      const out = await invoke(event);
      expect(out.ok).toBe(false);
      expect(out.error!.message).toMatch(message);
    }
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("bad configuration fails every invocation with one message naming every bad variable", async () => {
    const factory = () => ({
      config: loadConfig({
        AWS_REGION: "us-east-1",
        ECR_REGISTRIES: "123.dkr.ecr.us-east-1.amazonaws.com",
        ADOPT_EXISTING_SECRET: "maybe",
        WRITE_DEBOUNCE_SECONDS: "-1",
      }),
      deps: {} as App["deps"],
    });
    const out = await invoke(manual, factory);
    expect(out.error!.message).toMatch(/3 problems/);
    for (const variable of ["ECR_REGISTRIES", "ADOPT_EXISTING_SECRET", "WRITE_DEBOUNCE_SECONDS"]) expect(out.error!.message).toContain(variable);
  });
});

describe("redaction", () => {
  it("no secret in any captured output, Report or error of the paths above", () => {
    // Runs last in this file: `captured` and `everything` hold the output of every path.
    expect(everything.length).toBeGreaterThan(15);
    const haystack = captured + JSON.stringify(everything);
    expect(haystack).toContain("invocation summary");
    for (const needle of [...secretNeedles(), RAW_TOKEN]) expect(haystack).not.toContain(needle);
  });
});
