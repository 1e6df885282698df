/**
 * The invocation deadline under the real Lambda runtime contract (test/support/lambda-runtime.ts:
 * the AWS Lambda Runtime Interface Emulator + AWS's Node.js runtime interface client, running the
 * zip `osls package` builds). Function timeout 3 s; `context.getRemainingTimeInMillis()` counts
 * down to the RIE's real deadline.
 *
 * - A cluster endpoint that never answers (a TLS server on 127.0.0.1 that accepts the request and
 *   stays silent): the invocation ends before the timeout with the run failed (RunFailedError,
 *   not "Task timed out"), the cluster `skipped: deadline`, and the Report, the summary log line
 *   and the metrics written by the function.
 * - An AWS endpoint that never answers (ECR GetAuthorizationToken held by the fault proxy in
 *   front of moto): the same, the registry `skipped: deadline`, nothing written.
 *
 * The runtime returns a thrown error as {errorType, errorMessage, trace}: the Report itself comes
 * back through the function's summary log line (its `report` field), which is where Lambda users
 * read it; the error message carries the Report's errors.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { startPackagedFunction, type LambdaRuntime } from "../support/lambda-runtime";
import { motoEnv } from "../support/moto";
import { startProxiedMoto, type ProxiedMoto } from "../support/moto-proxy";
import { selfSignedCert } from "../support/tls";

const REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const MOTO_PASSWORD = "123456789012-auth-token";
const TIMEOUT_SECONDS = 3;

let aws: ProxiedMoto;
let fn: LambdaRuntime;
let silent: Server;
let dir: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lambda-deadline-"));
  const { key, cert } = selfSignedCert(dir, "rsa");
  // The cluster's API server: accepts every request, never answers.
  silent = createServer({ key, cert }, (req) => void req.resume());
  silent.on("connection", (s: Socket) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const endpoint = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
  aws = await startProxiedMoto();
  fn = await startPackagedFunction({
    timeoutSeconds: TIMEOUT_SECONDS,
    env: {
      ...aws.env(),
      ECR_REGISTRIES: REGISTRY,
      EKS_CLUSTERS: JSON.stringify([{ name: "silent", region: "us-east-1", endpoint, caData: cert.toString("base64") }]),
      TARGET_NAMESPACES: "*",
    },
  });
}, 600_000);

afterAll(async () => {
  await fn?.stop();
  await aws?.stop();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await aws.moto.reset();
  aws.resetFaults();
});

/** The function's JSON log lines since `from` (its stdout through the runtime). */
function logLines(from: number): Array<Record<string, unknown>> {
  return fn
    .output()
    .slice(from)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

describe("the packaged function, function timeout 3 s, under the real runtime", () => {
  it("a cluster endpoint that never answers: the Report (skipped: deadline) comes back before the timeout; the run fails", async () => {
    const from = fn.output().length;
    const out = await fn.invoke({ action: "heal" });
    expect(out.timedOut).toBe(false);
    expect(out.ms).toBeLessThan(TIMEOUT_SECONDS * 1000);
    expect(out.errorType).toBe("RunFailedError");
    expect((out.result as { errorMessage: string }).errorMessage).toMatch(/cluster silent: skipped: deadline/);

    const lines = logLines(from);
    const summary = lines.find((l) => l.message === "invocation summary");
    expect(summary, fn.output().slice(from)).toBeDefined();
    expect(summary).toMatchObject({ ok: false, deadlineReached: true });
    const report = summary!.report as Report;
    expect(report.registries.map((r) => [r.registry, r.outcome])).toEqual([[REGISTRY, "created"]]);
    expect(report.kubernetes!.clusters[0]).toMatchObject({ cluster: "silent", ok: false, skipped: "deadline" });
    expect(report.deadline).toMatchObject({ reached: true });
    const emf = lines.find((l) => "_aws" in l);
    expect(emf).toMatchObject({ RotationFailed: 1, DeadlineReached: 1 });
    expect(fn.output() + out.body).not.toContain(MOTO_PASSWORD);
  });

  it("an AWS endpoint that never answers (ECR GetAuthorizationToken hung at the proxy): skipped: deadline before the timeout, nothing written", async () => {
    aws.proxy.hang({ match: { operation: "GetAuthorizationToken" } });
    const from = fn.output().length;
    const out = await fn.invoke({ action: "rotate" });
    expect(out.timedOut).toBe(false);
    expect(out.ms).toBeLessThan(TIMEOUT_SECONDS * 1000);
    expect(out.errorType).toBe("RunFailedError");
    const summary = logLines(from).find((l) => l.message === "invocation summary");
    expect(summary).toMatchObject({ ok: false, deadlineReached: true });
    const report = summary!.report as Report;
    expect(report.registries.map((r) => [r.registry, r.outcome])).toEqual([[REGISTRY, "skipped"]]);
    expect(report.registries[0]!.reason).toMatch(/^deadline/);
    const sm = new SecretsManagerClient({
      endpoint: aws.moto.url,
      region: "us-east-1",
      credentials: { accessKeyId: motoEnv(aws.moto.url).AWS_ACCESS_KEY_ID!, secretAccessKey: motoEnv(aws.moto.url).AWS_SECRET_ACCESS_KEY! },
    });
    expect((await sm.send(new ListSecretsCommand({}))).SecretList ?? []).toEqual([]);
  });
});
