/**
 * `ecr-token-rotator eks-token` in process: the ExecCredential it prints, where it takes the region
 * from, its usage errors and exit codes, and no secret in its failures. (Byte-for-byte against
 * `aws eks get-token` under faketime, in process and as the bundled CLI: the integration test
 * test/integration/eks-token-cli.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { eksTokenCommand, execCredentialApiVersion, formatExecCredential } from "../../src/cli/eks-token";
import { decodeEksToken } from "../../src/eks/token";

const FROZEN_DATE = new Date("2026-11-24T10:00:00Z");
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

describe("eks-token command", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: SECRET };

  async function run(argv: string[], extraEnv: Record<string, string | undefined> = {}) {
    let stdout = "";
    let stderr = "";
    const code = await eksTokenCommand(argv, {
      env: { ...env, ...extraEnv },
      now: () => FROZEN_DATE,
      stdout: (t) => (stdout += `${t}\n`),
      stderr: (t) => (stderr += `${t}\n`),
    });
    return { code, stdout, stderr };
  }

  it("prints kind, apiVersion, spec, status in the CLI's order and format", async () => {
    const { code, stdout } = await run(["--cluster", "c", "--region", "us-east-1"]);
    expect(code).toBe(0);
    expect(Object.keys(JSON.parse(stdout))).toEqual(["kind", "apiVersion", "spec", "status"]);
    expect(stdout).toMatch(
      /^\{\n {4}"kind": "ExecCredential",\n {4}"apiVersion": "client\.authentication\.k8s\.io\/v1beta1",\n {4}"spec": \{\},\n {4}"status": \{\n {8}"expirationTimestamp": "2026-11-24T10:14:00Z",\n {8}"token": "k8s-aws-v1\.[A-Za-z0-9_-]+"\n {4}\}\n\}\n\n$/,
    );
  });

  it("takes the region from --region, then AWS_REGION, then AWS_DEFAULT_REGION", async () => {
    const host = (stdout: string) => decodeEksToken(JSON.parse(stdout).status.token).host;
    expect(host((await run(["--cluster", "c", "--region", "eu-west-1"], { AWS_REGION: "us-west-2" })).stdout)).toBe("sts.eu-west-1.amazonaws.com");
    expect(host((await run(["--cluster", "c"], { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "ap-south-1" })).stdout)).toBe("sts.us-west-2.amazonaws.com");
    expect(host((await run(["--cluster", "c"], { AWS_DEFAULT_REGION: "ap-south-1" })).stdout)).toBe("sts.ap-south-1.amazonaws.com");
    expect(host((await run(["--cluster-name=c", "--region=cn-northwest-1"])).stdout)).toBe("sts.cn-northwest-1.amazonaws.com.cn");
  });

  it("fails clearly (exit 2) without a region, a cluster, or with bad arguments", async () => {
    const noRegion = await run(["--cluster", "c"]);
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toMatch(/no region: pass --region or set AWS_REGION/);
    expect(noRegion.stdout).toBe("");
    const noCluster = await run(["--region", "us-east-1"]);
    expect(noCluster.code).toBe(2);
    expect(noCluster.stderr).toMatch(/--cluster NAME is required/);
    expect((await run(["--cluster", "c", "--bogus"])).code).toBe(2);
    expect((await run(["--cluster", "c", "positional"])).code).toBe(2);
    expect((await run(["--cluster", "bad name!", "--region", "us-east-1"])).stderr).toMatch(/not a valid EKS cluster name/);
    expect((await run(["--cluster", "c", "--region", "evil.example.com"])).stderr).toMatch(/not an AWS region/);
    expect((await run(["--cluster", "a", "--cluster-name", "b", "--region", "us-east-1"])).code).toBe(2);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/exec credential plugin/);
  });

  it("fails with exit 1 and no secret in the message when credentials cannot be had", async () => {
    // reading credentials from the environment registers the secret with the redaction guard
    expect((await run(["--cluster", "c", "--region", "us-east-1"])).code).toBe(0);
    let stderr = "";
    let stdout = "";
    const code = await eksTokenCommand(["--cluster", "c", "--region", "us-east-1"], {
      env: {},
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      credentials: async () => {
        throw new Error(`profile broken near ${SECRET}`);
      },
    });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/eks-token: .*profile broken/);
    expect(stderr).not.toContain(SECRET);
  });

  it("chooses the ExecCredential apiVersion from KUBERNETES_EXEC_INFO like the AWS CLI", () => {
    const warnings: string[] = [];
    const warn = (t: string) => warnings.push(t);
    expect(execCredentialApiVersion(undefined, warn)).toBe("client.authentication.k8s.io/v1beta1");
    expect(execCredentialApiVersion('{"apiVersion":"client.authentication.k8s.io/v1"}', warn)).toBe("client.authentication.k8s.io/v1");
    expect(execCredentialApiVersion('{"apiVersion":"client.authentication.k8s.io/v1beta1"}', warn)).toBe("client.authentication.k8s.io/v1beta1");
    expect(warnings).toEqual([]);
    expect(execCredentialApiVersion('{"apiVersion":"client.authentication.k8s.io/v1alpha1"}', warn)).toBe("client.authentication.k8s.io/v1alpha1");
    expect(execCredentialApiVersion("{not json", warn)).toBe("client.authentication.k8s.io/v1beta1");
    expect(execCredentialApiVersion('{"apiVersion":"v9"}', warn)).toBe("client.authentication.k8s.io/v1beta1");
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/deprecated API version/);
    expect(warnings[1]).toMatch(/Error parsing KUBERNETES_EXEC_INFO/);
    expect(warnings[2]).toMatch(/Unrecognized API version/);
  });

  it("formats the expiry without milliseconds", () => {
    const text = formatExecCredential("client.authentication.k8s.io/v1", "k8s-aws-v1.x", new Date("2026-11-24T10:14:07.999Z"));
    expect(JSON.parse(text).status.expirationTimestamp).toBe("2026-11-24T10:14:07Z");
  });
});
