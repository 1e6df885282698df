/**
 * The Lambda handler with a context whose remaining time runs out: a cluster endpoint (a local
 * TLS server) that accepts connections and never answers, and an AWS endpoint (ECR through the
 * real SDK client) that never answers. The Report still comes back before the remaining time is
 * gone, with what was left `skipped: deadline`; the summary line and the metrics are emitted;
 * the invocation fails.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import type { App } from "../../src/app/app";
import { createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import type { Report } from "../../src/report/report";
import type { EcrApi } from "../../src/rotation/ecr";
import { sdkEcrApi } from "../../src/rotation/aws";
import type { SecretsApi } from "../../src/rotation/secrets-manager";
import type { RunDeps } from "../../src/run/run";
import { powertoolsTelemetry } from "../../src/run/telemetry";
import { emptySecrets } from "../support/aws-fakes";
import { authorizationData, HOST_USE1, NOW, PASSWORD } from "../support/fixtures";
import { selfSignedCert } from "../support/tls";

let dir: string;
let tls: Server;
let http: HttpServer;
let clusterUrl: string;
let awsUrl: string;
let caData: string;
const sockets = new Set<Socket>();
const saved = { ...process.env };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "handler-deadline-"));
  const { key, cert } = selfSignedCert(dir, "rsa");
  caData = cert.toString("base64");
  // Both accept the request and never answer.
  tls = createServer({ key, cert }, (req) => void req.resume());
  http = createHttpServer((req) => void req.resume());
  for (const s of [tls, http]) s.on("connection", (c: Socket) => sockets.add(c));
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  clusterUrl = `https://127.0.0.1:${(tls.address() as { port: number }).port}`;
  awsUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterAll(async () => {
  process.env = saved;
  for (const s of sockets) s.destroy();
  await Promise.all([new Promise<void>((r) => tls.close(() => r())), new Promise<void>((r) => http.close(() => r()))]);
  rmSync(dir, { recursive: true, force: true });
});

/** A Lambda context whose remaining time counts down from `ms`. */
function contextWith(ms: number): Context {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()), functionName: "ecr-token-rotator", awsRequestId: "req-1" } as unknown as Context;
}

const secrets: SecretsApi = emptySecrets();
const quickEcr: EcrApi = { getAuthorizationToken: async (region) => [authorizationData(region)] };

function appWith(ecr: (deadline?: RunDeps["deadline"]) => EcrApi): App {
  const config = loadConfig({
    AWS_REGION: "us-east-1",
    ECR_REGISTRIES: HOST_USE1,
    SECRET_NAME: "production/ecr/credentials",
    EKS_CLUSTERS: JSON.stringify([{ name: "silent", region: "us-east-1", endpoint: clusterUrl, caData }]),
    TARGET_NAMESPACES: "*",
  });
  const step = createKubernetesStep(config, { access: async () => ({ server: clusterUrl, caData, token: "k8s-aws-v1.handler-deadline-test-token" }) });
  const deps = (deadline?: RunDeps["deadline"]): RunDeps => ({
    ecr: ecr(deadline),
    secrets,
    now: () => NOW,
    deadline,
    kubernetes: async () => step,
    fallbackOnHeal: true,
  });
  return { config, deps: deps(), withDeadline: deps };
}

async function invoke(app: App, remainingMs: number): Promise<{ report: Report; error: Error; output: string }> {
  let output = "";
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = process.stderr.write = ((chunk: string | Uint8Array) => {
    output += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await createHandler(() => app, powertoolsTelemetry)({ action: "heal" }, contextWith(remainingMs));
    throw new Error("the invocation did not fail");
  } catch (error) {
    const report = (error as { report?: Report }).report;
    if (!report) throw error;
    return { report, error: error as Error, output };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

describe("the handler's deadline (context.getRemainingTimeInMillis)", () => {
  it("a cluster that never answers: Report, summary line and metrics before the time runs out; skipped: deadline; the run fails", async () => {
    const { report, error, output } = await invoke(
      appWith(() => quickEcr),
      3_000,
    );
    // 3 s remaining - 0.5 s reserve: the deadline ends the work (the cluster never answers, so
    // only the deadline can), and the Report comes back.
    expect(report.registries[0]).toMatchObject({ outcome: "created" });
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster).toMatchObject({ cluster: "silent", ok: false, skipped: "deadline" });
    expect(cluster.error).toMatch(/skipped: deadline/);
    expect(report.deadline).toMatchObject({ reached: true });
    expect(report.ok).toBe(false);
    expect(error.message).toMatch(/skipped: deadline/);

    const lines = output
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.find((l) => l.message === "invocation summary")!;
    expect(summary).toMatchObject({ level: "ERROR", deadlineReached: true });
    const emf = lines.find((l) => "_aws" in l)!;
    expect(emf).toMatchObject({ RotationFailed: 1, DeadlineReached: 1 });
    expect(output).not.toContain(PASSWORD);
  }, 20_000);

  it("an AWS endpoint that never answers (ECR through the real SDK client): skipped: deadline, nothing written, Report returned", async () => {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: awsUrl,
      AWS_ACCESS_KEY_ID: "AKIAHANDLERDEADLINE1",
      AWS_SECRET_ACCESS_KEY: "handler-deadline-secret-key",
      AWS_REGION: "us-east-1",
    });
    let created = 0;
    const counting: SecretsApi = { ...secrets, create: async () => ((created += 1), { versionId: "v1" }) };
    const app = appWith((deadline) => sdkEcrApi(deadline));
    const wired = { ...app, withDeadline: (d: NonNullable<RunDeps["deadline"]>) => ({ ...app.withDeadline!(d), secrets: counting }) };
    const { report, output } = await invoke(wired, 2_500);
    expect(report.registries[0]).toMatchObject({ registry: HOST_USE1, outcome: "skipped" });
    expect(report.registries[0]!.reason).toMatch(/^deadline: no token before the invocation's deadline/);
    expect(created).toBe(0);
    expect(report.kubernetes).toMatchObject({ mode: "skipped" });
    expect(report.deadline).toMatchObject({ reached: true });
    expect(output).toContain('"invocation summary"');
  }, 20_000);
});
