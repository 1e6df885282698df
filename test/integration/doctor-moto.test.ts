/**
 * `ecr-token-rotator doctor` as an operator runs it (bin/ecr-token-rotator.mjs → dist/cli.mjs),
 * against moto (ECR tokens, Secrets Manager, STS) and a real registry: Debian's docker-registry
 * accepting exactly moto's ECR credential, behind a local TLS front whose certificate names the
 * two ECR hosts (test/support/ecr-front.ts: the CLI process reaches "the ECR registry" there
 * through a test-only preload and trusts the front's certificate through NODE_EXTRA_CA_CERTS;
 * the product's HTTPS checks run unchanged). moto's tokens carry a fixed past expiry, so every
 * run passes --now.
 *
 * A healthy deployment passes every line (only `clusters` is skipped: none configured); each
 * broken variant fails exactly its line.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { SecretsManagerClient, UntagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { ECR_FRONT_PRELOAD, startEcrFront, type EcrFront } from "../support/ecr-front";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { startRegistry, type Registry } from "../support/registry";
import { selfSignedCert } from "../support/tls";
import { distEnv } from "../support/dist";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's token expires 2015-01-01T00:00:00Z
const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SECRETS = ["ecr/us-east-1/credentials", "ecr/eu-west-1/credentials", "ecr/all"];

let moto: MotoServer;
let registry: Registry;
let front: EcrFront;
let token: { user: string; password: string };
const dir = mkdtempSync(join(tmpdir(), "doctor-moto-"));

/** The deployment: two regions, a combined secret, readers (with their key) and a replica. */
const DEPLOYMENT = {
  ECR_REGISTRIES: `${USE1},${EUW1}`,
  SECRET_NAME: "ecr/{region}/credentials",
  COMBINED_SECRET_NAME: "ecr/all",
  KMS_KEY_ID: KEY,
  SECRET_READERS: "333333333333",
  SECRET_REPLICA_REGIONS: "eu-central-1",
  PROBE_IMAGE: "demo/app:1",
};

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...ECR_FRONT_PRELOAD, "bin/ecr-token-rotator.mjs", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          ...distEnv(),
          ...motoEnv(moto.url),
          ...DEPLOYMENT,
          ...front.env(),
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function doctor(env: Record<string, string> = {}): Promise<{ code: number; report: Report; text: string }> {
  const json = await cli(["doctor", "--json", "--now", TOKEN_CLOCK], env);
  expect(json.stderr).toMatch(/^doctor: /);
  const report = JSON.parse(json.stdout) as Report;
  const text = await cli(["doctor", "--now", TOKEN_CLOCK], env);
  expect(text.code).toBe(json.code);
  const all = json.stdout + json.stderr + text.stdout + text.stderr;
  // The token (user:password, its base64, the password alone) never reaches the output.
  for (const needle of [token.password, Buffer.from(`${token.user}:${token.password}`).toString("base64")]) expect(all).not.toContain(needle);
  return { code: json.code, report, text: text.stdout };
}

const failed = (report: Report) => report.checks!.filter((c) => c.status === "fail").map((c) => c.name);

beforeAll(async () => {
  moto = await startMoto();
  const data = (
    await new ECRClient({ region: "us-east-1", endpoint: moto.url, credentials: { accessKeyId: "t", secretAccessKey: "t" } }).send(
      new GetAuthorizationTokenCommand({}),
    )
  ).authorizationData![0]!;
  const [user, ...rest] = Buffer.from(data.authorizationToken!, "base64").toString().split(":");
  token = { user: user!, password: rest.join(":") };
  registry = await startRegistry({ users: [{ username: token.user, password: token.password }] });
  front = await startEcrFront(registry, [USE1, EUW1], dir);
});
afterAll(async () => {
  await front?.stop();
  await registry?.stop();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await moto.reset();
  await registry.setUsers([{ username: token.user, password: token.password }]);
  // The deployment as the product leaves it: one rotation.
  const rotated = await cli(["rotate", "--now", TOKEN_CLOCK]);
  expect(rotated.stdout).toMatch(/^OK /);
  expect(rotated.code).toBe(0);
});

describe("ecr-token-rotator doctor on moto and a real registry", () => {
  it("a healthy deployment passes every AWS, registry and secret line; exit 0", async () => {
    const { code, report, text } = await doctor();
    expect(code).toBe(0);
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual([
      "pass aws identity",
      "pass ecr token us-east-1",
      "pass ecr token eu-west-1",
      `pass registry login ${USE1}`,
      `pass registry pull ${USE1}/demo/app:1`,
      `pass registry login ${EUW1}`,
      `pass registry pull ${EUW1}/demo/app:1`,
      ...SECRETS.flatMap((name) => ["exists", "owned", "validity", "policy", "kms", "replicas"].map((area) => `pass secret ${area} ${name}`)),
      "skip clusters",
    ]);
    expect(report).toMatchObject({ ok: true, action: "doctor", ecrCalls: 2, errors: [] });
    expect(report.checks![0]!.detail).toMatch(/^arn:aws:(iam|sts)::123456789012:/);
    expect(text.trim().split("\n").at(-1)).toBe("25 passed, 0 failed, 1 skipped");
  });

  it("a wrong secret owner fails exactly `secret owned <name>`", async () => {
    await new SecretsManagerClient({ region: "us-east-1", endpoint: moto.url, credentials: { accessKeyId: "t", secretAccessKey: "t" } }).send(
      new UntagResourceCommand({ SecretId: "ecr/eu-west-1/credentials", TagKeys: ["ecr-token-rotator:managed"] }),
    );
    const { code, report, text } = await doctor();
    expect(code).toBe(1);
    expect(failed(report)).toEqual(["secret owned ecr/eu-west-1/credentials"]);
    expect(text).toMatch(/^FAIL {2}secret owned ecr\/eu-west-1\/credentials — it lacks the tag ecr-token-rotator:managed=true/m);
    expect(text).toMatch(/^ {6}fix: if the product should own it: aws secretsmanager tag-resource --secret-id ecr\/eu-west-1\/credentials/m);
  });

  it("a token the registry refuses fails exactly `registry login <host>` per registry; the pull lines are skipped (same cause)", async () => {
    await registry.setUsers([{ username: token.user, password: "a-password-the-token-does-not-carry" }]);
    const { code, report } = await doctor();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([`registry login ${USE1}`, `registry login ${EUW1}`]);
    expect(report.checks!.find((c) => c.name === `registry login ${USE1}`)!.detail).toBe(
      "the registry refused the token GetAuthorizationToken issued in us-east-1 (HTTP 401)",
    );
    expect(report.checks!.find((c) => c.name === `registry pull ${USE1}/demo/app:1`)).toMatchObject({ status: "skip" });
  });

  it("PROBE_IMAGE of a missing repository fails exactly its pull line per registry", async () => {
    const { code, report } = await doctor({ PROBE_IMAGE: "demo/missing:1" });
    expect(code).toBe(1);
    expect(failed(report)).toEqual([`registry pull ${USE1}/demo/missing:1`, `registry pull ${EUW1}/demo/missing:1`]);
    expect(report.checks!.find((c) => c.name === `registry pull ${USE1}/demo/missing:1`)!.detail).toBe(
      `demo/missing:1 does not exist in ${USE1} (HTTP 404: no such repository, tag or digest)`,
    );
  });

  it("the registry's certificate is verified: without its CA the login lines fail with the TLS fix", async () => {
    const other = mkdtempSync(join(dir, "other-ca-"));
    writeFileSync(join(other, "ca.pem"), selfSignedCert(other, "ec").cert);
    const { code, report } = await doctor({ NODE_EXTRA_CA_CERTS: join(other, "ca.pem") });
    expect(code).toBe(1);
    expect(failed(report)).toEqual([`registry login ${USE1}`, `registry login ${EUW1}`]);
    expect(report.checks!.find((c) => c.name === `registry login ${USE1}`)).toMatchObject({
      detail: expect.stringMatching(/no answer from https:\/\/123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/v2\/ \(\w*(CERT|SIGNED)\w*\)/),
      fix: expect.stringContaining("NODE_EXTRA_CA_CERTS"),
    });
  });

  it('{"action":"doctor"} through the handler path (invoke) returns the same checklist', async () => {
    const event = join(dir, "doctor.json");
    writeFileSync(event, JSON.stringify({ action: "doctor" }));
    const out = await cli(["invoke", "--event", event, "--json", "--now", TOKEN_CLOCK]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, action: "doctor", trigger: { kind: "manual", via: "manual" } });
  });
});
