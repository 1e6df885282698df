/**
 * Never a false all-clear, and tables that fit the terminal (issue 20, items 4, 5, 9), through the
 * CLI process on the kube-apiserver bed: a named namespace the cluster does not have is an error
 * naming it and its close matches among the namespaces the configuration selects (never one
 * outside that scope); heal does not suggest re-running the typo; the first line names the
 * cluster given as region:name; on an 80-column terminal every line fits and nothing is cut.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBed, type Bed } from "../bed/index";
import { productEnvForBed } from "../support/bed-env";
import { distEnv } from "../support/dist";
import { startMoto, type MotoServer } from "../support/moto";

let bed: Bed;
let moto: MotoServer;
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's tokens expire 2015-01-01
// team-3 exists but the configuration leaves it out: it must never be suggested.
const EXTRA = { EXCLUDE_NAMESPACES: "kube-system,kube-public,kube-node-lease,default,team-3" };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  const env = { PATH: process.env.PATH ?? "", ...distEnv(), ...productEnvForBed(bed, moto, { ...EXTRA, ...extra }) };
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/ecr-token-rotator.mjs", ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The CLI on a terminal of `columns` columns (a pseudo-terminal made by script(1)). */
function cliOnTerminal(args: string[], columns: number): Promise<Run> {
  const env = { PATH: process.env.PATH ?? "", ...distEnv(), ...productEnvForBed(bed, moto, EXTRA) };
  const quoted = [process.execPath, "bin/ecr-token-rotator.mjs", ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    execFile("script", ["-qec", `stty cols ${columns} rows 200; ${quoted} 2>/dev/null`, "/dev/null"], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout: stdout.replaceAll("\r", ""), stderr }),
    );
  });
}

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: ["infra/k8s/components/fallback/rbac.yaml"] }), startMoto()]);
  for (const ns of ["team-1", "team-2", "team-3", "payments"]) await bed.createNamespace(ns);
  // A pull Secret someone else manages: its conflict row carries a long "to resolve" text.
  await bed.kubectl(
    [
      "-n",
      "payments",
      "create",
      "secret",
      "docker-registry",
      "ecr-pull-secret",
      "--docker-server=ghcr.io",
      "--docker-username=u",
      "--docker-password=not-ours",
    ],
    { check: true },
  );
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
});

describe("a named namespace that does not exist (item 4)", () => {
  it("diagnose --namespace tem-2: an error (exit 1) naming it and its close match, not an all-clear", async () => {
    const out = await cli(["diagnose", "--namespace", "tem-2"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^FAILED/);
    expect(out.stdout).toContain("namespace tem-2 not found; did you mean team-2?");
    const json = JSON.parse((await cli(["diagnose", "--namespace", "tem-2", "--json"])).stdout);
    expect(json.ok).toBe(false);
    expect(json.kubernetes.clusters[0].diagnosis.errors).toEqual(["namespace tem-2 not found; did you mean team-2?"]);
  });

  it("close matches come only from the namespaces the configuration selects", async () => {
    const out = await cli(["diagnose", "--namespace", "tem-3", "--json"]);
    expect(out.code).toBe(1);
    const errors = JSON.parse(out.stdout).kubernetes.clusters[0].diagnosis.errors as string[];
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^namespace tem-3 not found/);
    expect(errors[0]).not.toContain("team-3");
  });

  it("heal --namespace tem-2: the namespace fails with its close match, and no re-run of the typo is suggested", async () => {
    const out = await cli(["heal", "--namespace", "tem-2", "--now", TOKEN_CLOCK]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain("namespace tem-2 not found");
    expect(out.stdout).toContain("did you mean team-2?");
    expect(out.stdout).not.toContain("--namespace tem-2");
    expect(out.stdout).not.toContain("re-run the failed namespace");
  });

  it("an existing namespace still diagnoses OK", async () => {
    expect((await cli(["diagnose", "--namespace", "team-2"])).code).toBe(0);
  });
});

describe("the first line (item 5)", () => {
  it("--cluster region:name names the cluster and the namespaces", async () => {
    const out = await cli(["diagnose", "--cluster", `us-east-1:${bed.clusterName}`, "--namespace", "team-1"]);
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toContain(`; cluster us-east-1:${bed.clusterName}; namespace team-1; configuration:`);
  });
});

describe("tables fit the terminal (item 9)", () => {
  it("at 80 columns every line fits and the conflict's resolution is whole; in a pipe it is one line", async () => {
    const term = await cliOnTerminal(["heal", "--dry-run", "--now", TOKEN_CLOCK], 80);
    const lines = term.stdout.split("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    const resolution =
      "to resolve: set ADOPT_EXISTING_PULL_SECRETS=true to take it over, or ask its owner (kubectl -n payments get secret ecr-pull-secret -o yaml";
    expect(term.stdout.replace(/\s+/g, " ")).toContain(resolution);
    expect(term.stdout).not.toContain("…");
    const pipe = await cli(["heal", "--dry-run", "--now", TOKEN_CLOCK]);
    expect(pipe.stdout.split("\n").some((l) => l.includes(resolution) && l.length > 150)).toBe(true);
  });
});
