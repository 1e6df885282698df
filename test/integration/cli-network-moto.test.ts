/**
 * The CLI under network failures (issue 20, items 1–3), run as an operator runs it
 * (bin/ecr-token-rotator.mjs → the test run's bundle) against moto, with the cluster's endpoint
 * a name that does not resolve or a local TCP server that accepts connections and never answers:
 * - a DNS failure reads "cannot resolve <host>" with what usually causes it, in heal and doctor
 *   (and the doctor does not blame TLS or caData);
 * - while a request waits, stderr says on what (host, try n of m, seconds waited); the tries fit
 *   the run's deadline (--timeout) and the final message names the URL;
 * - Ctrl-C (SIGINT) during a heal: the partial Report (Secrets Manager written, the cluster work
 *   interrupted), exit 130.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { distEnv } from "../support/dist";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { selfSignedCert } from "../support/tls";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's tokens expire 2015-01-01
const SECRET = "production/ecr/credentials";

let moto: MotoServer;
let caData: string;
const dir = mkdtempSync(join(tmpdir(), "cli-network-"));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const clusters = (endpoint: string): string => JSON.stringify([{ name: "prod", region: "us-east-1", endpoint, caData }]);

const baseEnv = (endpoint: string, extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  HOME: dir,
  ...distEnv(),
  ...motoEnv(moto.url),
  ECR_REGISTRIES: HOST,
  SECRET_NAME: SECRET,
  EKS_CLUSTERS: clusters(endpoint),
  TARGET_NAMESPACES: "*",
  ...extra,
});

function cli(args: string[], endpoint: string, extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/ecr-token-rotator.mjs", ...args], { env: baseEnv(endpoint, extra), maxBuffer: 8 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A TCP server on 127.0.0.1 that accepts every connection and never answers (a hung API server, a black-holing proxy). */
async function silentServer(): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  moto = await startMoto();
  caData = selfSignedCert(dir, "ec").cert.toString("base64");
});
afterAll(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await moto.reset();
});

describe("a cluster endpoint that does not resolve (item 1)", () => {
  const endpoint = "https://nonexistent.invalid";

  it("heal: 'cannot resolve nonexistent.invalid' with the private-endpoint hint, the secret still written", async () => {
    const out = await cli(["heal", "--json", "--create", "--now", TOKEN_CLOCK], endpoint);
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as Report;
    expect(report.registries[0]).toMatchObject({ registry: HOST, outcome: "created" });
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.error).toContain("cannot resolve nonexistent.invalid");
    expect(cluster.error).toContain("a private endpoint resolves only inside its VPC");
    expect(cluster.error).toContain("endpoint override");
    expect(cluster.problems?.[0]).toMatchObject({ kind: "network", code: "ENOTFOUND", target: { url: endpoint } });
    expect(out.stdout).not.toContain("[redacted]");
    expect(out.stdout).not.toMatch(/HTTP -1/);
    const text = await cli(["heal", "--now", TOKEN_CLOCK], endpoint);
    expect(text.stdout).toContain("cannot resolve nonexistent.invalid");
  });

  it("doctor: the reachability check says 'cannot resolve' with the fix, never TLS or caData", async () => {
    const out = await cli(["doctor", "--json", "--now", TOKEN_CLOCK], endpoint);
    expect(out.code).toBe(1);
    const checks = (JSON.parse(out.stdout) as Report).checks!;
    const reachable = checks.find((c) => c.name === "cluster reachable prod")!;
    expect(reachable).toMatchObject({ status: "fail" });
    expect(reachable.detail).toContain("cannot resolve nonexistent.invalid");
    expect(reachable.fix).toContain("VPN");
    const clusterChecks = checks.filter((c) => c.name.startsWith("cluster "));
    for (const c of clusterChecks) expect(`${c.detail} ${c.fix ?? ""}`).not.toMatch(/caData|TLS|certificate/i);
    const text = await cli(["doctor", "--now", TOKEN_CLOCK], endpoint);
    expect(text.stdout).toMatch(/FAIL {2}cluster reachable prod — cannot resolve nonexistent\.invalid/);
  });
});

describe("an endpoint that accepts connections and never answers (item 2)", () => {
  it("stderr says what the run waits on (host, try n of m, seconds); the tries fit --timeout; the final message names the URL", async () => {
    const server = await silentServer();
    try {
      const out = await cli(["heal", "--json", "--create", "--timeout", "8", "--now", TOKEN_CLOCK], server.url);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(new RegExp(`waiting on 127\\.0\\.0\\.1:${server.port} for list namespaces \\(try 1 of 5\\): no answer for \\d+ s`));
      const report = JSON.parse(out.stdout) as Report;
      // Secrets Manager was written before the cluster was tried.
      expect(report.registries[0]).toMatchObject({ registry: HOST, outcome: "created" });
      const cluster = report.kubernetes!.clusters[0]!;
      expect(cluster.error).toContain(`no answer from ${server.url} in time (ETIMEDOUT)`);
      expect(cluster.problems?.[0]).toMatchObject({ kind: "network", code: "ETIMEDOUT", target: { url: server.url } });
      // The run ended at its deadline (the test's timeout is far below 5 tries × 30 s): recorded as reached.
      expect(report.deadline?.reached).toBe(true);
    } finally {
      await server.close();
    }
  }, 30_000);
});

/** Starts a CLI run; `stderrUntil` resolves once stderr matches. */
function startCli(args: string[], endpoint: string) {
  const child = spawn(process.execPath, ["bin/ecr-token-rotator.mjs", ...args], { env: baseEnv(endpoint), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const w of watchers.splice(0))
      if (w.pattern.test(stderr)) w.resolve();
      else watchers.push(w);
  });
  const exited = new Promise<Run>((resolve) => child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })));
  const stderrUntil = (pattern: RegExp): Promise<void> => new Promise((resolve) => (pattern.test(stderr) ? resolve() : watchers.push({ pattern, resolve })));
  return { child, exited, stderrUntil };
}

describe("Ctrl-C during a heal (item 3)", () => {
  it("the first SIGINT: the partial Report says the secret was written and the cluster work interrupted; exit 130", async () => {
    const server = await silentServer();
    try {
      const run = startCli(["heal", "--json", "--create", "--now", TOKEN_CLOCK], server.url);
      // The secret is written before any cluster request; the cluster request is then in flight.
      await run.stderrUntil(/waiting on 127\.0\.0\.1:\d+ for list namespaces/);
      run.child.kill("SIGINT");
      const out = await run.exited;
      expect(out.code).toBe(130);
      expect(out.stderr).toContain("interrupted: no new work starts");
      const report = JSON.parse(out.stdout) as Report;
      expect(report).toMatchObject({ ok: false, interrupted: true });
      expect(report.registries[0]).toMatchObject({ registry: HOST, secretName: SECRET, outcome: "created" });
      const cluster = report.kubernetes!.clusters[0]!;
      expect(cluster.ok).toBe(false);
      expect(cluster.error).toMatch(/^skipped: interrupted/);
      expect(report.errors.join("\n")).toContain("skipped: interrupted");
      expect(report.deadline?.reached).toBe(false);
    } finally {
      await server.close();
    }
  });
});
