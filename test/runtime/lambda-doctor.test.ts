/**
 * `{"action":"doctor"}` under the real Lambda runtime contract (test/support/lambda-runtime.ts:
 * the AWS Lambda Runtime Interface Emulator + AWS's Node.js runtime interface client, running the
 * zip `osls package` builds), against moto behind the fault proxy (fresh token expiries: the
 * function judges tokens by the real clock) and a real registry: Debian's docker-registry
 * accepting exactly moto's ECR credential, behind the TLS front of test/support/ecr-front.ts.
 * The function reaches that front through the same test-only preload as the CLI tests, given to
 * the runtime's Node through NODE_OPTIONS (Lambda passes NODE_OPTIONS to its Node too), and
 * trusts its certificate through NODE_EXTRA_CA_CERTS; the packaged code runs unchanged.
 *
 * - The deployment as the product leaves it (one rotation through the function): the doctor's
 *   Report comes back (HTTP 200, no function error) with every line passing — so the lazily
 *   imported doctor chunk is in the zip and loads under the runtime.
 * - The secret's ownership tag removed: `secret owned` fails. Still the Report, not an invocation
 *   error (a failed check is a finding: no retry, no Errors alarm), ok=false, the failed line in
 *   it; the function's log carries the WARN summary with checksFailed.
 * - Never the token (password, base64 `user:password`) in the payload or the function's log.
 */
import { GetAuthorizationTokenCommand, ECRClient } from "@aws-sdk/client-ecr";
import { SecretsManagerClient, UntagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { REPO } from "../deploy/support";
import { startEcrFront, type EcrFront } from "../support/ecr-front";
import { packagedFunction, startPackagedFunction, type Invocation, type LambdaRuntime } from "../support/lambda-runtime";
import { motoEnv } from "../support/moto";
import { startProxiedMoto, type ProxiedMoto } from "../support/moto-proxy";
import { startRegistry, type Registry } from "../support/registry";

const REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const SECRET = "ecr/123456789012/us-east-1/credentials";
const PROBE_IMAGE = "demo/app:1";

let aws: ProxiedMoto;
let registry: Registry;
let front: EcrFront;
let fn: LambdaRuntime;
let sm: SecretsManagerClient;
let token: { user: string; password: string };
const dir = mkdtempSync(join(tmpdir(), "lambda-doctor-"));

beforeAll(async () => {
  aws = await startProxiedMoto();
  // moto's ECR credential is fixed (the proxy rewrites only its expiry): the registry accepts it.
  const data = (
    await new ECRClient({ region: "us-east-1", endpoint: aws.url, credentials: { accessKeyId: "t", secretAccessKey: "t" } }).send(
      new GetAuthorizationTokenCommand({}),
    )
  ).authorizationData![0]!;
  const [user, ...rest] = Buffer.from(data.authorizationToken!, "base64").toString().split(":");
  token = { user: user!, password: rest.join(":") };
  registry = await startRegistry({ users: [{ username: token.user, password: token.password }] });
  front = await startEcrFront(registry, [REGISTRY], dir);
  fn = await startPackagedFunction({
    timeoutSeconds: 30,
    env: {
      ...aws.env(),
      ECR_REGISTRIES: REGISTRY,
      PROBE_IMAGE,
      ...front.env(),
      NODE_OPTIONS: `--import ${join(REPO, "test", "support", "https-redirect.mjs")}`,
    },
  });
  const env = motoEnv(aws.moto.url);
  sm = new SecretsManagerClient({
    endpoint: aws.moto.url,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
}, 600_000);

afterAll(async () => {
  await fn?.stop();
  await front?.stop();
  await registry?.stop();
  await aws?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await aws.moto.reset();
  aws.resetFaults();
  // The deployment as the product leaves it: one rotation, through the function.
  const rotated = await fn.invoke({ action: "rotate" });
  expect(rotated.errorType).toBeUndefined();
  expect(rotated.result).toMatchObject({ ok: true, registries: [{ registry: REGISTRY, outcome: "created" }] });
});

/**
 * The invocation came back as a Report: HTTP 200, no error payload. (The RIE marks a function
 * error only by that {errorType, errorMessage} payload, not by an X-Amz-Function-Error header as
 * Lambda's Invoke API does — measured: a thrown RunFailedError comes back without the header.)
 */
function reportOf(out: Invocation): Report {
  expect(out.status).toBe(200);
  expect(out.timedOut).toBe(false);
  expect(out.errorType, out.body.slice(0, 500)).toBeUndefined();
  return out.result as Report;
}

/** The function's JSON log lines since `from` (its stdout/stderr through the runtime). */
function logLines(from: number): Array<Record<string, unknown>> {
  return fn
    .output()
    .slice(from)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Neither the token's password nor its base64 `user:password` (the `auth` form) anywhere in `text`. */
function expectNoToken(text: string): void {
  expect(text).not.toContain(token.password);
  expect(text).not.toContain(Buffer.from(`${token.user}:${token.password}`).toString("base64"));
}

const lines = (report: Report) => report.checks!.map((c) => `${c.status} ${c.name}`);

describe('{"action":"doctor"} — the packaged function under the real runtime', () => {
  it("a healthy deployment: the Report comes back with every line passing (the doctor chunk loaded)", async () => {
    const pkg = await packagedFunction();
    expect(pkg.files.filter((f) => /^handlers\/chunks\/doctor-[\w-]+\.mjs$/.test(f))).toHaveLength(1);
    const from = fn.output().length;
    const out = await fn.invoke({ action: "doctor" });
    const report = reportOf(out);
    console.log(`doctor under the RIE: ${out.ms.toFixed(0)} ms, ${report.checks?.length} checks`);
    expect(lines(report)).toEqual([
      "pass aws identity",
      "pass ecr token us-east-1",
      `pass registry login ${REGISTRY}`,
      `pass registry pull ${REGISTRY}/${PROBE_IMAGE}`,
      ...["exists", "owned", "validity"].map((area) => `pass secret ${area} ${SECRET}`),
      ...["policy", "kms", "replicas"].map((area) => `skip secret ${area} ${SECRET}`),
      "skip clusters",
    ]);
    expect(report).toMatchObject({ ok: true, action: "doctor", trigger: { kind: "manual" }, dryRun: false, ecrCalls: 1, errors: [] });
    const summary = logLines(from).find((l) => l.message === "invocation summary");
    expect(summary).toMatchObject({ level: "INFO", action: "doctor", checksFailed: [] });
    expectNoToken(fn.output() + out.body);
  });

  it("a failed check (the secret's ownership tag removed) is a finding: the Report, ok=false, no function error; WARN summary in the log", async () => {
    await sm.send(new UntagResourceCommand({ SecretId: SECRET, TagKeys: ["ecr-token-rotator:managed"] }));
    const from = fn.output().length;
    const out = await fn.invoke({ action: "doctor" });
    const report = reportOf(out);
    expect(report).toMatchObject({ ok: false, action: "doctor" });
    expect(report.checks!.filter((c) => c.status === "fail").map((c) => c.name)).toEqual([`secret owned ${SECRET}`]);
    expect(report.checks!.find((c) => c.name === `secret owned ${SECRET}`)).toMatchObject({
      detail: expect.stringContaining("it lacks the tag ecr-token-rotator:managed=true"),
      fix: expect.stringContaining(`aws secretsmanager tag-resource --secret-id ${SECRET}`),
    });
    expect(report.errors).toEqual([expect.stringMatching(new RegExp(`^secret owned ${SECRET}: `))]);
    // The rest of the deployment still checks out: the registry lines pass.
    expect(lines(report)).toContain(`pass registry login ${REGISTRY}`);

    const summaries = logLines(from).filter((l) => l.message === "invocation summary");
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: "WARN", ok: false, action: "doctor", checksFailed: [`secret owned ${SECRET}`] });
    // No ERROR line: nothing for a log-based alarm on errors to count.
    expect(logLines(from).filter((l) => l.level === "ERROR")).toEqual([]);
    expectNoToken(fn.output() + out.body);
  });
});
