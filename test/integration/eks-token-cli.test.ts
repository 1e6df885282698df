/**
 * `ecr-token-rotator eks-token` against the reference, `aws eks get-token` (AWS CLI from PyPI):
 * both run at the same frozen instant under Debian `faketime`, with the same dummy credentials,
 * and their whole stdout must be byte-identical. Needs `faketime` and `awscli`
 * (scripts/ensure-test-deps.sh installs both). The command's own behaviour in process (usage,
 * region, errors): test/unit/eks-token-command.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleCli } from "../support/cli-bundle";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eksTokenCommand } from "../../src/cli/eks-token";
import { decodeEksToken } from "../../src/eks/token";

const FROZEN = "2026-11-24 10:00:00";
const FROZEN_DATE = new Date("2026-11-24T10:00:00Z");
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEHYaCXVzLWVhc3QtMSJHMEUCIQD+test/session+token==";
const home = mkdtempSync(join(tmpdir(), "eks-token-cli-"));
let cliRunner: string;
beforeAll(async () => {
  cliRunner = await bundleCli(join(home, "bundle"));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

/** `aws` when on PATH, else the module (pip may install it without a shim on PATH). */
const AWS = which("aws") ? ["aws"] : ["python3", "-m", "awscli"];

interface Case {
  name: string;
  cluster: string;
  region: string;
  accessKeyId: string;
  sessionToken?: string;
  execInfo?: string;
}

const CASES: Case[] = [
  { name: "long-term keys, us-east-1", cluster: "test-cluster", region: "us-east-1", accessKeyId: "AKIAIOSFODNN7EXAMPLE" },
  { name: "session token, us-east-1", cluster: "test-cluster", region: "us-east-1", accessKeyId: "ASIAIOSFODNN7EXAMPLE", sessionToken: SESSION_TOKEN },
  {
    name: "session token, China partition",
    cluster: "prod_cluster-01",
    region: "cn-north-1",
    accessKeyId: "ASIAIOSFODNN7EXAMPLE",
    sessionToken: SESSION_TOKEN,
  },
  {
    name: "long-term keys, eu-west-1, kubectl asks for v1",
    cluster: "c",
    region: "eu-west-1",
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    execInfo: '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}',
  },
];

/** A clean environment: only these credentials, no config files, no metadata service. */
function cleanEnv(c: Case): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    AWS_CONFIG_FILE: join(home, "none-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "none-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SECRET,
    ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}),
    ...(c.execInfo ? { KUBERNETES_EXEC_INFO: c.execInfo } : {}),
  };
}

function underFaketime(args: string[], env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  // -f without "@": an absolute, frozen clock. Node's event loop keeps a real monotonic clock.
  const res = spawnSync("faketime", ["-f", FROZEN, ...args], {
    env: { ...env, FAKETIME_DONT_FAKE_MONOTONIC: "1" },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (res.error) throw res.error;
  return { stdout: res.stdout, stderr: res.stderr, status: res.status };
}

function referenceOutput(c: Case): string {
  const res = underFaketime([...AWS, "eks", "get-token", "--cluster-name", c.cluster, "--region", c.region], cleanEnv(c));
  expect(res.status, `aws eks get-token failed: ${res.stderr}`).toBe(0);
  return res.stdout;
}

async function ourOutput(c: Case): Promise<string> {
  let out = "";
  const code = await eksTokenCommand(["--cluster", c.cluster, "--region", c.region], {
    env: cleanEnv(c),
    now: FROZEN_DATE,
    stdout: (text) => (out += `${text}\n`), // as the CLI's main writes
    stderr: () => {},
  });
  expect(code).toBe(0);
  return out;
}

describe("eks-token matches aws eks get-token byte for byte", () => {
  it("has the reference tools", () => {
    expect(which("faketime"), "Debian faketime is missing (apt-get install faketime)").toBe(true);
    const res = spawnSync(AWS[0]!, [...AWS.slice(1), "--version"], { encoding: "utf8" });
    expect(res.status, "the AWS CLI is missing (pip install awscli)").toBe(0);
  });

  for (const c of CASES) {
    it(`in process with an injected clock: ${c.name}`, async () => {
      const reference = referenceOutput(c);
      // the reference really is frozen at the instant (otherwise the comparison proves little)
      const status = JSON.parse(reference).status;
      expect(status.expirationTimestamp).toBe("2026-11-24T10:14:00Z");
      expect(decodeEksToken(status.token).searchParams.get("X-Amz-Date")).toBe("20261124T100000Z");
      expect(await ourOutput(c)).toBe(reference);
    });

    it(`the bundled CLI as a process under faketime: ${c.name}`, () => {
      const reference = referenceOutput(c);
      const ours = underFaketime(
        [join(process.cwd(), "node_modules/.bin/node"), cliRunner, "eks-token", "--cluster", c.cluster, "--region", c.region],
        cleanEnv(c),
      );
      expect(ours.status, ours.stderr).toBe(0);
      expect(Buffer.from(ours.stdout).equals(Buffer.from(reference))).toBe(true);
      expect(ours.stdout).toBe(reference);
    });
  }

  it("differs from the reference when the instant differs by one second (the comparison is sharp)", async () => {
    const c = CASES[0]!;
    const reference = referenceOutput(c);
    let out = "";
    await eksTokenCommand(["--cluster", c.cluster, "--region", c.region], {
      env: cleanEnv(c),
      now: new Date(FROZEN_DATE.getTime() + 1000),
      stdout: (text) => (out += `${text}\n`),
    });
    expect(out).not.toBe(reference);
  });
});
