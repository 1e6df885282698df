// The test bed's Kubernetes API server: EKS-style token authentication (AWS CLI tokens accepted
// and mapped, bad ones refused with 401), RBAC (403 where a user lacks a permission), ESO CRD
// validation, kubectl as admin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDENTITIES, startBed, type Bed, type BedIdentity } from "./index";
import { cliToken, decodeToken, encodeToken, handToken, whoami } from "./tokens";
import type { LooseJson } from "../support/loose-json";

const limited: BedIdentity = {
  accessKeyId: "AKIALIMITEDTESTKEY01",
  secretAccessKey: "limited-test-secret-key",
  arn: "arn:aws:iam::123456789012:role/limited",
  username: "limited-user",
  groups: ["limited"],
};

let bed: Bed;

beforeAll(async () => {
  bed = await startBed({ identities: { limited } });
  await bed.createNamespace("allowed");
  await bed.createNamespace("other");
  // "limited" may read Secrets in namespace "allowed" only.
  await bed.kubectl(["apply", "-f", "-"], {
    check: true,
    input: `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: allowed}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: secret-reader, namespace: allowed}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: limited}
`,
  });
});

afterAll(async () => {
  await bed?.stop();
});

async function lastDecision(): Promise<{ authenticated: boolean; reason?: string; username?: string }> {
  const list = await bed.decisions();
  const last = list.at(-1);
  if (!last) throw new Error("the webhook recorded no decision");
  return last;
}

describe("kube-apiserver of the test bed", () => {
  it("is a real kube-apiserver 1.34+ with RBAC, reachable with kubectl as admin", async () => {
    const version = await bed.kubectl(["version", "-o", "json"]);
    const server = (JSON.parse(version.stdout) as { serverVersion: { major: string; minor: string; gitVersion: string } }).serverVersion;
    expect(Number(server.major)).toBe(1);
    expect(Number(server.minor)).toBeGreaterThanOrEqual(34);
    const who = await bed.kubectl(["auth", "whoami", "-o", "json"], { check: true });
    expect(JSON.parse(who.stdout).status.userInfo.username).toBe("admin");
    const apis = await bed.kubectl(["api-versions"], { check: true });
    expect(apis.stdout).toContain("rbac.authorization.k8s.io/v1");
    expect(apis.stdout).toContain("external-secrets.io/v1");
    expect(apis.stdout).not.toContain("external-secrets.io/v1beta1");
  });
});

describe("EKS token authentication", () => {
  it("accepts a token from `aws eks get-token` and maps the role to its access entry's user", async () => {
    const token = await cliToken(bed, "rotator");
    const who = await whoami(bed, token);
    expect(who.status).toBe(201);
    expect(who.username).toBe("ecr-token-rotator");
    expect(who.groups).toEqual(expect.arrayContaining(["ecr-token-rotator", "system:authenticated"]));
    expect(who.extra?.canonicalArn).toEqual([DEFAULT_IDENTITIES.rotator.arn]);
    expect(who.extra?.accessKeyId).toEqual([DEFAULT_IDENTITIES.rotator.accessKeyId]);
  });

  it("accepts the same kind of token from kubectl, also through the fault proxy", async () => {
    const token = await cliToken(bed, "nobody");
    const direct = await bed.kubectl(["auth", "whoami", "-o", "json"], { token });
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout).status.userInfo.username).toBe("nobody");
    const proxied = await whoami(bed, token, true);
    expect(proxied.status).toBe(201);
    expect(proxied.username).toBe("nobody");
  });

  it("accepts a token signed 14 minutes ago (STS ignores X-Amz-Expires=60; 15 min window)", async () => {
    const token = await cliToken(bed, "rotator", { at: new Date(Date.now() - 14 * 60_000) });
    expect((await whoami(bed, token)).username).toBe("ecr-token-rotator");
  });

  it("refuses an expired token (signed 16 minutes ago, made with faketime) with 401", async () => {
    const token = await cliToken(bed, "rotator", { at: new Date(Date.now() - 16 * 60_000) });
    const who = await whoami(bed, token);
    expect(who.status).toBe(401);
    const d = await lastDecision();
    expect(d.authenticated).toBe(false);
    expect(d.reason).toMatch(/expired/);
  });

  it("refuses a token signed for another cluster with 401", async () => {
    const token = await cliToken(bed, "rotator", { cluster: "other-cluster" });
    expect((await whoami(bed, token)).status).toBe(401);
    expect((await lastDecision()).reason).toMatch(/SignatureDoesNotMatch/);
  });

  it("refuses tampered tokens with 401", async () => {
    const url = decodeToken(await cliToken(bed, "rotator"));
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
    const flipped = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
    const cases = {
      signature: url.replace(sig, flipped),
      // the signature of one identity presented with another's access key id
      accessKey: url.replace(DEFAULT_IDENTITIES.rotator.accessKeyId, DEFAULT_IDENTITIES.nobody.accessKeyId),
      // a later date than the one signed
      date: url.replace(/X-Amz-Date=(\d{8}T\d{4})(\d\d)Z/, (_m, a: string, s: string) => `X-Amz-Date=${a}${s === "00" ? "01" : "00"}Z`),
    };
    for (const [what, tampered] of Object.entries(cases)) {
      expect(tampered, what).not.toBe(url);
      expect((await whoami(bed, encodeToken(tampered))).status, what).toBe(401);
      expect((await lastDecision()).reason, what).toMatch(/SignatureDoesNotMatch/);
    }
  });

  it("refuses a correctly signed token of an unknown access key, or with the wrong secret key", async () => {
    const stranger: BedIdentity = { ...limited, accessKeyId: "AKIAUNKNOWNTESTKEY01" };
    expect((await whoami(bed, await handToken(bed, stranger))).status).toBe(401);
    expect((await lastDecision()).reason).toMatch(/InvalidClientTokenId/);
    const wrongSecret: BedIdentity = { ...DEFAULT_IDENTITIES.rotator, secretAccessKey: "not-the-secret" };
    expect((await whoami(bed, await handToken(bed, wrongSecret))).status).toBe(401);
    expect((await lastDecision()).reason).toMatch(/SignatureDoesNotMatch/);
  });

  it("accepts hand-signed tokens for the regional and the global STS endpoint", async () => {
    const rotator = DEFAULT_IDENTITIES.rotator;
    expect((await whoami(bed, await handToken(bed, rotator))).username).toBe("ecr-token-rotator");
    expect((await whoami(bed, await handToken(bed, rotator, { region: "eu-west-1" }))).username).toBe("ecr-token-rotator");
    expect((await whoami(bed, await handToken(bed, rotator, { host: "sts.amazonaws.com", region: "us-east-1" }))).username).toBe("ecr-token-rotator");
  });

  it("refuses correctly signed tokens that break the authenticator's URL rules, each for its own reason", async () => {
    const rotator = DEFAULT_IDENTITIES.rotator;
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ["X-Amz-Expires above 900", handToken(bed, rotator, { expiresIn: 3600 }), /X-Amz-Expires/],
      ["cluster header not signed", handToken(bed, rotator, { signClusterHeader: false }), /did not sign the x-k8s-aws-id/],
      ["extra query parameter", handToken(bed, rotator, { query: { Foo: "bar" } }), /non-whitelisted query parameter/],
      ["foreign host", handToken(bed, rotator, { host: "sts.us-east-1.amazonaws.com.evil.example" }), /unexpected hostname/],
      ["global endpoint outside the aws partition", handToken(bed, rotator, { host: "sts.amazonaws.com.cn", region: "cn-north-1" }), /unexpected hostname/],
      ["http scheme", handToken(bed, rotator, { scheme: "http" }), /unexpected scheme/],
      ["another path", handToken(bed, rotator, { path: "/other" }), /unexpected path/],
      ["another action", handToken(bed, rotator, { action: "GetSessionToken" }), /unexpected action/],
      ["dated 20 minutes in the future", handToken(bed, rotator, { signingDate: new Date(Date.now() + 20 * 60_000) }), /not yet current/],
    ];
    for (const [what, tokenPromise, reason] of cases) {
      const token = await tokenPromise;
      expect((await whoami(bed, token)).status, what).toBe(401);
      expect((await lastDecision()).reason, what).toMatch(reason);
    }
  });

  it("refuses malformed tokens with 401", async () => {
    const good = decodeToken(await cliToken(bed, "rotator"));
    const cases: Array<[string, string, RegExp]> = [
      ["no prefix", Buffer.from(good).toString("base64url"), /prefix/],
      ["not base64url", "k8s-aws-v1.%%%not-base64%%%", /base64/],
      ["padded base64", `k8s-aws-v1.${Buffer.from(good).toString("base64")}=`, /base64/],
      ["duplicate parameter", encodeToken(`${good}&Action=GetCallerIdentity`), /multiple values|duplicate/],
      ["duplicate parameter in another case", encodeToken(`${good}&action=GetCallerIdentity`), /duplicate/],
      ["too large", encodeToken(`${good}&X-Amz-Security-Token=${"a".repeat(4096)}`), /too large/],
      ["empty", "k8s-aws-v1.", /scheme|URL/],
    ];
    for (const [what, token, reason] of cases) {
      const who = await whoami(bed, token);
      expect(who.status, what).toBe(401);
      expect((await lastDecision()).reason, what).toMatch(reason);
    }
  });

  it("honours identities added at runtime", async () => {
    const late: BedIdentity = {
      accessKeyId: "AKIALATETESTKEY00001",
      secretAccessKey: "late-secret",
      arn: "arn:aws:iam::123456789012:role/late",
      username: "late",
      groups: ["g1"],
    };
    expect((await whoami(bed, await handToken(bed, late))).status).toBe(401);
    await bed.addIdentities({ late });
    const who = await whoami(bed, await handToken(bed, late));
    expect(who.status).toBe(201);
    expect(who.username).toBe("late");
    expect(who.groups).toContain("g1");
  });
});

describe("RBAC", () => {
  it("gives an authenticated user without bindings 403 (not 401)", async () => {
    const token = await cliToken(bed, "nobody");
    const res = await bed.kubectl(["get", "secrets", "-n", "allowed"], { token });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Forbidden.*"nobody" cannot list resource "secrets"/);
  });

  it("lets a limited user do what its Role grants and nothing more", async () => {
    await bed.kubectl(["create", "secret", "generic", "s1", "-n", "allowed", "--from-literal=k=v"], { check: true });
    await bed.kubectl(["create", "secret", "generic", "s1", "-n", "other", "--from-literal=k=v"], { check: true });
    const token = await handToken(bed, limited);
    const ok = await bed.kubectl(["get", "secret", "s1", "-n", "allowed", "-o", "name"], { token });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe("secret/s1");
    const otherNs = await bed.kubectl(["get", "secret", "s1", "-n", "other"], { token });
    expect(otherNs.stderr).toMatch(/Forbidden/);
    const write = await bed.kubectl(["delete", "secret", "s1", "-n", "allowed"], { token });
    expect(write.stderr).toMatch(/Forbidden.*cannot delete/);
    const can = await bed.kubectl(["auth", "can-i", "patch", "secrets", "-n", "allowed"], { token });
    expect(can.stdout.trim()).toBe("no");
  });
});

describe("ESO CRDs", () => {
  const valid = {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name: "ecr-pull", namespace: "allowed" },
    spec: {
      refreshInterval: "1h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "aws-sm" },
      target: {
        name: "ecr-pull-secret",
        template: { type: "kubernetes.io/dockerconfigjson", engineVersion: "v2", data: { ".dockerconfigjson": "{{ .token }}" } },
      },
      data: [{ secretKey: "token", remoteRef: { key: "ecr-token-rotator/ecr" } }],
    },
  };

  it("accepts a valid ExternalSecret and ClusterSecretStore (external-secrets.io/v1)", async () => {
    const store = {
      apiVersion: "external-secrets.io/v1",
      kind: "ClusterSecretStore",
      metadata: { name: "aws-sm" },
      spec: { provider: { aws: { service: "SecretsManager", region: "us-east-1" } } },
    };
    const res = await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: [store, valid] }) });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const got = await bed.kubectl(["get", "externalsecret", "ecr-pull", "-n", "allowed", "-o", "jsonpath={.spec.refreshPolicy}"]);
    expect(got.code).toBe(0);
  });

  it("rejects an ExternalSecret with a bad enum value, an unknown field or a missing required field", async () => {
    const badEnum = structuredClone(valid) as Record<string, LooseJson>;
    badEnum.metadata.name = "bad-enum";
    badEnum.spec.refreshPolicy = "Sometimes";
    const unknown = structuredClone(valid) as Record<string, LooseJson>;
    unknown.metadata.name = "unknown-field";
    unknown.spec.refreshIntervall = "1h";
    const missing = structuredClone(valid) as Record<string, LooseJson>;
    missing.metadata.name = "missing-key";
    delete missing.spec.data[0].secretKey;
    for (const [what, obj, msg] of [
      ["bad enum", badEnum, /spec\.refreshPolicy: Unsupported value: "Sometimes"/],
      ["unknown field", unknown, /unknown field "spec\.refreshIntervall"/],
      ["missing required field", missing, /spec\.data\[0\]\.secretKey: Required value/],
    ] as const) {
      const res = await bed.kubectl(["create", "-f", "-"], { input: JSON.stringify(obj) });
      expect(res.code, what).not.toBe(0);
      expect(res.stderr, what).toMatch(msg);
    }
    const none = await bed.kubectl(["get", "externalsecrets", "-n", "allowed", "-o", "name"]);
    expect(none.stdout.trim()).toBe("externalsecret.external-secrets.io/ecr-pull");
  });

  it("does not serve external-secrets.io/v1beta1", async () => {
    const old = { ...valid, apiVersion: "external-secrets.io/v1beta1", metadata: { name: "old", namespace: "allowed" } };
    const res = await bed.kubectl(["create", "-f", "-"], { input: JSON.stringify(old) });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/no matches for kind "ExternalSecret" in version "external-secrets.io\/v1beta1"/);
  });
});
