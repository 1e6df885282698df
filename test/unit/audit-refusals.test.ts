/**
 * What the audit found (issue 19 §3), each refused before any write with a named error: the
 * combined secret clashing with the default registry's own secret (known only at run time); a
 * ServiceAccount whose imagePullSecrets is not a list; a `__proto__` key in a pull Secret's
 * auths; an ESO-looking Secret without a live owner (a conflict, reported).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config";
import { parseDockerConfig, DockerConfigError } from "../../src/formats/dockerconfig";
import { applyToCluster } from "../../src/kube/apply";
import { decideServiceAccount, DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../src/kube/decide";
import type { KubeServiceAccount } from "../../src/kube/types";
import { parseManualRequest } from "../../src/request/triggers";
import { runRequest } from "../../src/run/run";
import { memoryEcr, memorySecrets } from "../support/aws-fakes";
import { clusterTarget, NOW } from "../support/fixtures";
import { FakeKubeApi } from "../support/kube-fake-api";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const login = { host: HOST, username: "AWS", password: "audit-refusals-test-password-0123456789" };
const apply = (api: FakeKubeApi, over: Parameters<typeof clusterTarget>[0] = {}) =>
  applyToCluster({ server: "https://127.0.0.1:1", caData: "", token: "t" }, [login], clusterTarget(over), {
    api,
    now: () => NOW,
    sleep: async () => undefined,
  });
const encoded = (json: string) => ({ [DOCKERCONFIGJSON_KEY]: Buffer.from(json).toString("base64") });

describe("COMBINED_SECRET_NAME equal to the default registry's rendered SECRET_NAME (ECR_REGISTRIES unset)", () => {
  it("is refused at run time before any write; the run fails naming both", async () => {
    // The template has placeholders, so only the run (the token's proxyEndpoint) learns the account.
    const config = loadConfig({ AWS_REGION: "us-east-1", COMBINED_SECRET_NAME: "ecr/123456789012/us-east-1/credentials" });
    const sm = memorySecrets();
    const report = await runRequest(parseManualRequest({ action: "rotate" }), config, {
      ecr: memoryEcr(),
      secrets: sm.api,
      now: () => NOW,
      tokenNow: () => NOW,
    });
    expect(report.ok).toBe(false);
    expect(sm.writes).toEqual([]);
    expect(report.errors.join("\n")).toMatch(
      /COMBINED_SECRET_NAME="ecr\/123456789012\/us-east-1\/credentials" is also the secret of the default registry 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com/,
    );
  });

  it("a distinct combined name is written beside the registry secret", async () => {
    const config = loadConfig({ AWS_REGION: "us-east-1", COMBINED_SECRET_NAME: "ecr/all" });
    const sm = memorySecrets();
    const report = await runRequest(parseManualRequest({ action: "rotate" }), config, {
      ecr: memoryEcr(),
      secrets: sm.api,
      now: () => NOW,
      tokenNow: () => NOW,
    });
    expect(report.ok).toBe(true);
    expect(sm.writes).toEqual(["create ecr/123456789012/us-east-1/credentials", "create ecr/all"]);
  });
});

describe("a ServiceAccount whose imagePullSecrets is not a list", () => {
  const sa = (imagePullSecrets: unknown): KubeServiceAccount =>
    ({ metadata: { name: "default", namespace: "app", resourceVersion: "7" }, imagePullSecrets }) as unknown as KubeServiceAccount;

  it.each([
    ["a string", "ecr-pull-secret"],
    ["an object", { name: "x" }],
    ["a list holding a string", ["x"]],
  ])("%s: a named error, no patch", (_what, value) => {
    const d = decideServiceAccount(sa(value), "ecr-pull-secret");
    expect(d).toMatchObject({ action: "invalid" });
    expect((d as { reason: string }).reason).toMatch(/^InvalidServiceAccountError: ServiceAccount app\/default has imagePullSecrets/);
  });

  it("in a heal: the ServiceAccount is reported failed by name and not patched", async () => {
    const api = new FakeKubeApi().addNamespace("app");
    api.putServiceAccount(sa("ecr-pull-secret"));
    const r = await apply(api, { patchServiceAccounts: ["default"] });
    expect(r.serviceAccounts.failed).toEqual([
      { serviceAccount: "app/default", reason: expect.stringMatching(/InvalidServiceAccountError: .*not a list \(string\); not patched/) },
    ]);
    expect(api.count("patchServiceAccount")).toBe(0);
    expect(r.ok).toBe(false);
  });
});

describe('a "__proto__" key inside a pull Secret\'s auths', () => {
  const hostile = `{"auths":{"__proto__":{"auth":"eA=="},"${HOST}":{"auth":"b2xkOm9sZA=="}}}`;

  it("parseDockerConfig: a named error (DockerConfigError, reserved-key), no content in it", () => {
    const error = (() => {
      try {
        parseDockerConfig(hostile);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DockerConfigError);
    expect(error).toMatchObject({ problem: "reserved-key" });
    expect((error as Error).message).not.toContain("eA==");
  });

  it("in a heal: the product's own Secret holding one is not rewritten (the namespace fails, named)", async () => {
    const api = new FakeKubeApi().addNamespace("app");
    api.putSecret({
      metadata: { name: "ecr-pull-secret", namespace: "app", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
      type: DOCKERCONFIGJSON_TYPE,
      data: encoded(hostile),
    });
    const r = await apply(api);
    expect(r.namespaces).toEqual([{ namespace: "app", outcome: "failed", reason: expect.stringMatching(/DockerConfigError: .*"__proto__".*left untouched/) }]);
    expect(api.writes()).toEqual([]);
  });
});

describe("an ESO-looking Secret without a live owner is a conflict, reported", () => {
  it("an owner reference to an ExternalSecret that does not exist: conflict, no re-sync attempted, not written", async () => {
    const api = new FakeKubeApi().addNamespace("app");
    api.putSecret({
      metadata: {
        name: "ecr-pull-secret",
        namespace: "app",
        labels: { "reconcile.external-secrets.io/managed": "true" },
        ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: "gone", uid: "u", controller: true }],
      },
      type: DOCKERCONFIGJSON_TYPE,
      data: encoded(`{"auths":{}}`),
    });
    const r = await apply(api);
    expect(r.namespaces[0]).toMatchObject({ namespace: "app", outcome: "conflict" });
    expect(r.namespaces[0]!.reason).toMatch(/owned by ExternalSecret app\/gone, which does not exist: no live ESO owner/);
    expect(r.counts).toMatchObject({ conflict: 1, "eso-managed": 0 });
    expect(api.writes()).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe("a manual request's refusal is bounded and masked", () => {
  const refusalOf = (payload: unknown): string => {
    try {
      parseManualRequest(payload);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("accepted");
  };

  it("10,000 bad registries: the first few and a count, a few hundred bytes", () => {
    const message = refusalOf({ action: "rotate", registries: Array.from({ length: 10_000 }, (_, i) => `not-a-registry-${i}`) });
    expect(message).toContain('invalid ECR registry host "not-a-registry-0"');
    expect(message).toContain("and 9992 more problems");
    expect(message.length).toBeLessThan(2_000);
  });

  it("a registry URL with a password is not echoed (masked as configuration masks it)", () => {
    const message = refusalOf({ action: "rotate", registries: ["https://admin:hunter2-s3cret@registry.example.com/"] });
    expect(message).not.toContain("hunter2");
    expect(message).toMatch(/looks like a credential, not shown/);
  });

  it("10,000 invalid namespace names, each of a kilobyte: bounded, each value cut", () => {
    const message = refusalOf({ action: "heal", namespaces: Array.from({ length: 10_000 }, (_, i) => `Bad_${i}_${"x".repeat(1_000)}`) });
    expect(message).toMatch(/namespaces: "Bad_0_x+"… \(1006 characters\), .* and 9995 more are not valid namespace names/);
    expect(message.length).toBeLessThan(1_000);
  });

  it("10,000 unknown fields: bounded", () => {
    const payload = Object.fromEntries([["action", "rotate"], ...Array.from({ length: 10_000 }, (_, i) => [`field${i}`, 1])]);
    const message = refusalOf(payload);
    expect(message).toMatch(/unknown fields "field0", "field1", "field2", "field3", "field4" and 9995 more/);
    expect(message.length).toBeLessThan(1_000);
  });

  it("10,000 values of the wrong type: a count of the problems past the first few", () => {
    const message = refusalOf({ action: "rotate", registries: Array.from({ length: 10_000 }, () => 1) });
    expect(message).toContain("and 9992 more problems");
    expect(message.length).toBeLessThan(1_000);
  });
});
