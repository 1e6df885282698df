/**
 * The real Lambda runtime contract (test/support/lambda-runtime.ts): the AWS Lambda Runtime
 * Interface Emulator + AWS's Node.js runtime interface client on Node 22, running the function
 * from the zip `osls package` builds.
 *
 * First the harness itself, with a probe handler: the context's remaining time is the RIE's real
 * deadline counting down, the function timeout ends an invocation, the environment is the one
 * given. Then the packaged handler: a rotation against moto (behind the fault proxy, which hands
 * out moto's token with a current expiry) returns the Report and writes the secret; a dry run
 * returns the Report and writes nothing; a failed run is an invocation error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { scratch } from "../deploy/support";
import { packagedFunction, startLambdaRuntime, startPackagedFunction, type LambdaRuntime } from "../support/lambda-runtime";
import { motoEnv } from "../support/moto";
import { startProxiedMoto, type ProxiedMoto } from "../support/moto-proxy";

const REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const SECRET = "ecr/123456789012/us-east-1/credentials";
// moto's ECR password for account 123456789012 (fixed): must never show in any output.
const MOTO_PASSWORD = "123456789012-auth-token";

describe("the harness: RIE + aws-lambda-ric, probed", () => {
  const work = scratch("ecr-rotator-probe-");
  let probe: LambdaRuntime;
  beforeAll(async () => {
    const root = join(work.dir, "task");
    mkdirSync(join(root, "lib"), { recursive: true });
    writeFileSync(
      join(root, "lib", "probe.mjs"),
      `export const handler = async (event, context) => {
        const first = context.getRemainingTimeInMillis();
        await new Promise((r) => setTimeout(r, event.sleepMs));
        return { first, after: context.getRemainingTimeInMillis(), name: context.functionName, probe: process.env.PROBE ?? null,
                 leaked: process.env.VITEST ?? null, taskRoot: process.env.LAMBDA_TASK_ROOT, cwd: process.cwd(), node: process.version };
      };\n`,
    );
    probe = await startLambdaRuntime({ taskRoot: root, handler: "lib/probe.handler", timeoutSeconds: 3, env: { PROBE: "given" } });
  });
  afterAll(async () => {
    await probe?.stop();
    work.cleanup();
  });

  it("gives the handler a real countdown to the function timeout, its environment only, Node 22", async () => {
    const out = await probe.invoke({ sleepMs: 400 });
    expect(out.status).toBe(200);
    const r = out.result as { first: number; after: number; name: string; probe: string; leaked: unknown; taskRoot: string; cwd: string; node: string };
    console.log(`probe: remaining ${r.first} ms at entry, ${r.after} ms after a 400 ms sleep (timeout 3000 ms)`);
    expect(r.first).toBeGreaterThan(0);
    expect(r.first).toBeLessThanOrEqual(3000);
    // It counts down with the wall clock (the sleep took at least 400 ms).
    expect(r.first - r.after).toBeGreaterThanOrEqual(390);
    expect(r).toMatchObject({ name: "ecr-token-rotator-test-rotate", probe: "given", leaked: null, taskRoot: r.cwd });
    expect(r.node).toMatch(/^v22\./);
  });

  it("ends an invocation at the function timeout (and the next one runs again)", async () => {
    const late = await probe.invoke({ sleepMs: 10_000 });
    console.log(`probe: a 10 s handler with a 3 s timeout ended after ${late.ms.toFixed(0)} ms: ${late.body}`);
    expect(late.timedOut).toBe(true);
    expect(late.result).toBeUndefined();
    expect(late.ms).toBeGreaterThanOrEqual(2900);
    expect(late.ms).toBeLessThan(9000);
    const again = await probe.invoke({ sleepMs: 0 });
    expect(again.timedOut).toBe(false);
    expect((again.result as { probe: string }).probe).toBe("given");
  });
});

describe("the packaged function under the real runtime", () => {
  let aws: ProxiedMoto;
  let fn: LambdaRuntime;
  let sm: SecretsManagerClient;
  beforeAll(async () => {
    aws = await startProxiedMoto();
    const pkg = await packagedFunction();
    console.log(`packaged function: zip ${pkg.zipBytes} bytes, ${pkg.files.length} files, handler ${pkg.handler}`);
    fn = await startPackagedFunction({ timeoutSeconds: 20, env: { ...aws.env(), ECR_REGISTRIES: REGISTRY } });
    sm = new SecretsManagerClient({ ...motoClientConfig(aws.moto.url) });
  });
  afterAll(async () => {
    await fn?.stop();
    await aws?.stop();
  });
  beforeEach(async () => {
    await aws.moto.reset();
    aws.resetFaults();
  });

  it("dry run: returns the Report (nothing written) — the handler ran with the runtime's context", async () => {
    const out = await fn.invoke({ action: "rotate", dryRun: true });
    expect(out.errorType).toBeUndefined();
    expect(out.result).toMatchObject({ ok: true, action: "rotate", dryRun: true, trigger: { kind: "manual" }, ecrCalls: 1 });
    const report = out.result as { registries: { registry: string; outcome: string }[]; tokenSecondsRemaining: number | null };
    expect(report.registries.map((r) => [r.registry, r.outcome])).toEqual([[REGISTRY, "would-create"]]);
    expect((await sm.send(new ListSecretsCommand({}))).SecretList ?? []).toEqual([]);
    expect(aws.proxy.count({ operation: "GetAuthorizationToken" })).toBe(1);
  });

  it("rotates against moto: the Report comes back and Secrets Manager holds the token; no secret in the logs", async () => {
    const out = await fn.invoke({ action: "rotate" });
    expect(out.errorType).toBeUndefined();
    expect(out.result).toMatchObject({ ok: true, action: "rotate", dryRun: false, errors: [] });
    const report = out.result as { registries: { registry: string; outcome: string }[]; tokenSecondsRemaining: number };
    expect(report.registries.map((r) => [r.registry, r.outcome])).toEqual([[REGISTRY, "created"]]);
    expect(report.tokenSecondsRemaining).toBeGreaterThan(11 * 3600);
    const stored = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: SECRET }))).SecretString!) as Record<string, string>;
    expect(stored.auth_token).toBe(MOTO_PASSWORD);
    // Logged by the function (Powertools summary line), through the runtime's stdout.
    expect(fn.output()).toContain('"message":"invocation summary"');
    expect(fn.output() + out.body).not.toContain(MOTO_PASSWORD);
    expect(fn.output() + out.body).not.toContain(Buffer.from(`AWS:${MOTO_PASSWORD}`).toString("base64"));
  });

  it("a failed run is an invocation error the runtime reports (RunFailedError), not a timeout", async () => {
    aws.proxy.reset(); // moto's own 2015 expiry: the rotation must refuse the token
    const out = await fn.invoke({ action: "rotate" });
    expect(out.errorType).toBe("RunFailedError");
    expect(out.timedOut).toBe(false);
    expect((out.result as { errorMessage: string }).errorMessage).toMatch(/already expired at 2015-01-01/);
    expect((await sm.send(new ListSecretsCommand({}))).SecretList ?? []).toEqual([]);
  });
});

function motoClientConfig(url: string) {
  const env = motoEnv(url);
  return {
    endpoint: url,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!, sessionToken: env.AWS_SESSION_TOKEN },
  };
}
