/**
 * `ecr-token-rotator eks-token` as a kubectl exec credential plugin: the real kubectl runs the
 * CLI (bundled from src/cli/main.ts like scripts/build.mjs does) from a kubeconfig `exec` entry and sends the token as
 * its bearer credential to a stub API server on 127.0.0.1 (HTTPS with a throw-away self-signed
 * certificate from openssl: kubectl sends exec credentials only over TLS), which records what it
 * receives.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { bundleCli } from "../support/cli-bundle";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEksToken } from "../../src/eks/token";
import { listenOnPort0 } from "../support/ports";
import { selfSignedCert } from "../support/tls";

const run = promisify(execFile);
let server: Server;
let port: number;
const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
const dir = mkdtempSync(join(tmpdir(), "eks-kubectl-"));
let cliRunner: string;

beforeAll(async () => {
  cliRunner = await bundleCli(join(dir, "bundle"));
  const { key, cert } = selfSignedCert(dir, "ec");
  server = createServer({ key, cert }, (req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ major: "1", minor: "32", gitVersion: "v1.32.0-stub" }));
  });
  port = await listenOnPort0(server);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(apiVersion: string): string {
  const file = join(dir, `config-${apiVersion.split("/")[1]}`);
  const node = join(process.cwd(), "node_modules/.bin/node");
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "stub",
          cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": readFileSync(join(dir, "cert.pem")).toString("base64") },
        },
      ],
      users: [
        {
          name: "rotator",
          user: {
            exec: {
              apiVersion,
              command: node,
              args: [cliRunner, "eks-token", "--cluster", "test-cluster", "--region", "us-east-1"],
              env: [
                { name: "AWS_ACCESS_KEY_ID", value: "AKIAROTATORTESTKEY01" },
                { name: "AWS_SECRET_ACCESS_KEY", value: "rotator-test-secret-key" },
              ],
              interactiveMode: "Never",
            },
          },
        },
      ],
      contexts: [{ name: "stub", context: { cluster: "stub", user: "rotator" } }],
      "current-context": "stub",
    }),
  );
  return file;
}

describe("eks-token as a kubectl exec plugin", () => {
  for (const apiVersion of ["client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1"]) {
    it(`kubectl sends the command's token as its bearer credential (${apiVersion})`, async () => {
      seen.length = 0;
      const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: dir, AWS_EC2_METADATA_DISABLED: "true" };
      const { stdout } = await run("kubectl", ["--kubeconfig", kubeconfig(apiVersion), "get", "--raw", "/version"], { env, timeout: 60_000 });
      expect(JSON.parse(stdout).gitVersion).toBe("v1.32.0-stub");
      const auth = seen.find((r) => r.url === "/version")?.headers.authorization;
      expect(auth).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
      const url = decodeEksToken(auth!.slice("Bearer ".length));
      expect(url.host).toBe("sts.us-east-1.amazonaws.com");
      expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^AKIAROTATORTESTKEY01\/\d{8}\/us-east-1\/sts\/aws4_request$/);
      expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
    });
  }
});
