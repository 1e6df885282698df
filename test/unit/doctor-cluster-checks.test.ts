// The doctor's per-cluster checks against the in-memory KubeApi and a fake probe (reviews,
// discovery, version): every line's pass/fail/skip, its fix, the skip cascade, cluster selection,
// the deadline, and that no secret reaches a line. The same on the real API server: doctor-bed.test.ts.
import { describe, expect, it } from "vitest";
import { loadConfig, type ClusterConfig } from "../../src/config/config";
import { clusterCheckNames, createClusterChecks } from "../../src/doctor/cluster-checks";
import type { ClusterConnection } from "../../src/fleet/access";
import type { ClusterProbe } from "../../src/doctor/cluster-context";
import { productSecretNames } from "../../src/doctor/eso-checks";
import type { DoctorCheck } from "../../src/doctor/types";
import { ADMISSION_POLICIES, PRODUCT_RIGHTS, rightKey } from "../../src/kube/rights";
import type { AccessQuery, AdmissionObject } from "../../src/kube/reviews";
import { KubeApiError, type KubeExternalSecret } from "../../src/kube/types";
import { DeadlineExceededError, deadlineAt, NO_DEADLINE, type Deadline } from "../../src/shared/deadline";
import { EksConnectionError } from "../../src/shared/errors";
import { FakeKubeApi } from "../support/kube-fake-api";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const NOW = new Date("2026-11-24T08:00:00Z");
const BEARER = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlNlY3JldA";

function config(extra: Record<string, string> = {}) {
  return loadConfig({
    AWS_REGION: "us-east-1",
    ECR_REGISTRIES: HOST,
    SECRET_NAME: "production/ecr/credentials",
    EKS_CLUSTERS: "prod",
    ESO_RESYNC: "app=ecr",
    ...extra,
  });
}

/** An ECR password (base64 of the DATA_KEY envelope) expiring at `at`. */
const ecrPassword = (at: Date, tag: string) =>
  Buffer.from(
    JSON.stringify({
      payload: `${tag}-${"P".repeat(80)}`,
      datakey: "K".repeat(40),
      version: "2",
      type: "DATA_KEY",
      expiration: Math.floor(at.getTime() / 1000),
    }),
  ).toString("base64");

function pullSecret(namespace: string, password: string, name = "ecr-pull-secret") {
  const auth = Buffer.from(`AWS:${password}`).toString("base64");
  const config = { auths: { [HOST]: { username: "AWS", password, auth } } };
  return {
    metadata: { name, namespace },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
  };
}

function externalSecret(namespace: string, name: string, key: string, ready?: { status: string; reason?: string; message?: string }): KubeExternalSecret {
  return {
    metadata: { name, namespace },
    spec: { target: { name: "ecr-pull-secret" }, data: [{ remoteRef: { key } }] },
    ...(ready ? { status: { conditions: [{ type: "Ready", ...ready }] } } : {}),
  };
}

interface World {
  api: FakeKubeApi;
  /** Rights granted cluster-wide (rightKey) and per namespace (`ns:` + rightKey). */
  granted: Set<string>;
  served: Record<string, string[] | undefined>;
  whoami: () => Promise<{ username: string; groups: string[]; extra: Record<string, string[]> }>;
  version: () => Promise<string>;
  asked: AccessQuery[];
  /** The admission objects installed (`<resource>/<name>`); default: admission-policy.yaml's, each binding Deny. */
  admission: Map<string, AdmissionObject>;
  /** Whether the optional diagnosis-secrets role is bound (get secrets of any name). */
  diagnosisSecrets: boolean;
}

const installedPolicies = () =>
  new Map<string, AdmissionObject>(
    ADMISSION_POLICIES.flatMap((name) => [
      [`validatingadmissionpolicies/${name}`, { name }],
      [`validatingadmissionpolicybindings/${name}`, { name, policyName: name, validationActions: ["Deny"] }],
    ]),
  );

function world(): World {
  const api = new FakeKubeApi();
  for (const ns of ["team-a", "team-b"]) api.addNamespace(ns);
  api.putSecret(pullSecret("team-a", ecrPassword(new Date(NOW.getTime() + 9 * 3600_000), "A")));
  api.putSecret(pullSecret("team-b", ecrPassword(new Date(NOW.getTime() + 5 * 3600_000), "B")));
  api.putExternalSecret(externalSecret("team-a", "ecr-pull-secret", "production/ecr/credentials", { status: "True", reason: "SecretSynced" }));
  return {
    api,
    granted: new Set(PRODUCT_RIGHTS.map(rightKey)),
    served: {
      "external-secrets.io/v1": ["externalsecrets", "externalsecrets/status", "clusterexternalsecrets"],
      "admissionregistration.k8s.io/v1": ["validatingadmissionpolicies", "validatingadmissionpolicybindings", "validatingwebhookconfigurations"],
    },
    whoami: async () => ({
      username: "arn:aws:sts::123456789012:assumed-role/ecr-token-rotator/{{SessionName}}",
      groups: ["ecr-token-rotator", "system:authenticated"],
      extra: { arn: ["arn:aws:iam::123456789012:role/ecr-token-rotator"] },
    }),
    version: async () => "v1.34.4-eks-abc",
    asked: [],
    admission: installedPolicies(),
    diagnosisSecrets: false,
  };
}

function checks(w: World, deps: { access?: (c: ClusterConfig, d: Deadline) => Promise<ClusterConnection> } = {}) {
  const probe = (): ClusterProbe => ({
    version: () => w.version(),
    whoami: () => w.whoami(),
    can: async (q) => {
      w.asked.push(q);
      const key = rightKey({ group: q.group as "", resource: q.resource as "secrets", verb: q.verb as "get" });
      // A Secret other than the pull secret: only the optional role grants it.
      if (q.resource === "secrets" && q.name !== undefined && q.name !== "ecr-pull-secret") return { allowed: w.diagnosisSecrets };
      return { allowed: q.namespace ? w.granted.has(`${q.namespace}:${key}`) : w.granted.has(key) };
    },
    served: async (gv) => w.served[gv],
    admission: async (resource, name) => {
      if (!w.granted.has(`admissionregistration.k8s.io/${resource}: get`)) throw new KubeApiError(403, `cannot get resource "${resource}"`, {});
      return w.admission.get(`${resource}/${name}`);
    },
  });
  return createClusterChecks({
    access: deps.access ?? (async () => ({ server: "https://ABC.gr7.us-east-1.eks.amazonaws.com", caData: "Q0E=", token: BEARER })),
    openApi: async () => w.api,
    probe,
    sleep: async () => undefined,
  });
}

const run = (
  w: World,
  extra: Record<string, string> = {},
  more: { clusters?: string[]; deadline?: Deadline; access?: (c: ClusterConfig, d: Deadline) => Promise<ClusterConnection> } = {},
) =>
  checks(
    w,
    more.access ? { access: more.access } : {},
  )({
    config: config(extra),
    ...(more.clusters ? { clusters: more.clusters } : {}),
    tokenNow: () => NOW,
    deadline: more.deadline ?? NO_DEADLINE,
  });

const byName = (lines: DoctorCheck[]) => new Map(lines.map((l) => [l.name, l]));
const failed = (lines: DoctorCheck[]) => lines.filter((l) => l.status === "fail").map((l) => l.name);

describe("doctor: cluster checks", () => {
  it("a healthy cluster passes every line, in the fixed order, one rbac line per right of src/kube/rights.ts", async () => {
    const lines = await run(world());
    expect(lines.map((l) => l.name)).toEqual(clusterCheckNames("prod"));
    // The optional role is off by default: said, not failed.
    expect(lines.filter((l) => l.status !== "pass").map((l) => `${l.status} ${l.name}`)).toEqual(["skip cluster optional-role prod diagnosis-secrets"]);
    expect(new Set(lines.map((l) => l.name)).size).toBe(lines.length);
    expect(lines.filter((l) => l.name.startsWith("cluster rbac prod ")).map((l) => l.name)).toEqual(
      PRODUCT_RIGHTS.map((r) => `cluster rbac prod ${r.verb} ${r.resource}`),
    );
    const line = byName(lines);
    expect(line.get("cluster reachable prod")!.detail).toBe("endpoint ABC.gr7.us-east-1.eks.amazonaws.com, Kubernetes v1.34.4-eks-abc");
    expect(line.get("cluster identity prod")!.detail).toContain("(IAM arn:aws:iam::123456789012:role/ecr-token-rotator), groups: ecr-token-rotator");
    expect(line.get("cluster externalsecrets prod")!.detail).toBe("1 ExternalSecret reads production/ecr/credentials, all synced (Ready=True)");
    expect(line.get("cluster oldest-token prod")!.detail).toMatch(
      /^oldest token: ecr-pull-secret in namespace team-b \(.*\) valid for 5h00m \(until 2026-11-24T13:00:00.000Z\); 2 pull Secrets/,
    );
  });

  it("a right missing fails exactly its line, with the rbac.yaml rule and kubectl apply as the fix", async () => {
    const w = world();
    w.granted.delete("core/secrets: patch");
    const lines = await run(w);
    expect(failed(lines)).toEqual(["cluster rbac prod patch secrets"]);
    const line = byName(lines).get("cluster rbac prod patch secrets")!;
    expect(line.detail).toContain("may not patch secrets cluster-wide");
    expect(line.fix).toContain('add "patch" to the verbs of the rule for secrets (apiGroups: [""])');
    expect(line.fix).toContain("kubectl apply -f infra/k8s/components/fallback/rbac.yaml");
  });

  it("an identity outside the group ecr-token-rotator: the rbac fix maps it to the group first", async () => {
    const w = world();
    w.granted.clear();
    w.whoami = async () => ({ username: "someone", groups: ["system:authenticated"], extra: {} });
    const lines = await run(w);
    const line = byName(lines);
    expect(line.get("cluster identity prod")!.status).toBe("pass");
    expect(line.get("cluster identity prod")!.detail).toContain("not in the group ecr-token-rotator");
    // Every rbac line, and the admission-policy line (its reads are refused too).
    expect(failed(lines)).toHaveLength(PRODUCT_RIGHTS.length + 1);
    expect(line.get("cluster rbac prod list namespaces")!.fix).toMatch(
      /^map the identity to the group ecr-token-rotator .*aws eks update-access-entry --cluster-name prod/,
    );
  });

  it("namespace-confined RBAC (TARGET_NAMESPACES a list): a namespaced right is asked per target namespace", async () => {
    const w = world();
    for (const r of PRODUCT_RIGHTS.filter((r) => r.namespaced)) {
      w.granted.delete(rightKey(r));
      w.granted.add(`team-a:${rightKey(r)}`);
      if (!(r.resource === "secrets" && r.verb === "create")) w.granted.add(`team-b:${rightKey(r)}`);
    }
    const lines = await run(w, { TARGET_NAMESPACES: "team-a,team-b" });
    expect(failed(lines)).toEqual(["cluster rbac prod create secrets"]);
    const line = byName(lines);
    expect(line.get("cluster rbac prod get secrets")!.detail).toBe("granted in the 2 target namespaces, not cluster-wide");
    expect(line.get("cluster rbac prod create secrets")!.detail).toContain("nor in the target namespace team-b");
    expect(line.get("cluster rbac prod create secrets")!.fix).toContain(
      "kubectl -n team-b create rolebinding ecr-token-rotator --clusterrole=ecr-token-rotator --group=ecr-token-rotator",
    );
    // namespaces (cluster-scoped) was asked cluster-wide only.
    expect(w.asked.filter((q) => q.resource === "namespaces").map((q) => q.namespace)).toEqual([undefined]);
  });

  it("a token the cluster refuses fails the identity line with the access-entry fix; every later line is skipped", async () => {
    const w = world();
    w.whoami = async () => {
      throw new KubeApiError(401, "Unauthorized");
    };
    w.version = async () => {
      throw new KubeApiError(401, "Unauthorized");
    };
    const lines = await run(w, {
      EKS_CLUSTERS: JSON.stringify([{ name: "prod", region: "eu-west-1", roleArn: "arn:aws:iam::222222222222:role/spoke" }]),
    });
    const line = byName(lines);
    expect(line.get("cluster reachable prod")!.status).toBe("pass");
    expect(failed(lines)).toEqual(["cluster identity prod"]);
    expect(line.get("cluster identity prod")!.fix).toContain(
      "aws eks create-access-entry --cluster-name prod --region eu-west-1 --principal-arn <the function's role ARN: stack output RotateFunctionRoleArn> --kubernetes-groups ecr-token-rotator",
    );
    const rest = lines.slice(2);
    expect(rest.every((l) => l.status === "skip" && l.detail === "the cluster refused the token (see cluster identity prod)")).toBe(true);
    expect(w.api.calls).toEqual([]);
  });

  it("a cluster reached through a role names the role ARN in the access-entry fix", async () => {
    const w = world();
    w.whoami = async () => {
      throw new KubeApiError(401, "Unauthorized");
    };
    const lines = await run(
      w,
      {},
      {
        access: async () => ({
          server: "https://x.eks.amazonaws.com",
          caData: "Q0E=",
          token: BEARER,
          identity: { roleArn: "arn:aws:iam::222222222222:role/spoke", assumedRoleArn: "arn:aws:sts::222222222222:assumed-role/spoke/ecr-token-rotator" },
        }),
      },
    );
    const line = byName(lines).get("cluster identity prod")!;
    expect(line.detail).toContain("of arn:aws:sts::222222222222:assumed-role/spoke/ecr-token-rotator (assumed from arn:aws:iam::222222222222:role/spoke)");
    expect(line.fix).toContain("--principal-arn arn:aws:iam::222222222222:role/spoke --kubernetes-groups ecr-token-rotator");
  });

  it("a name that does not resolve: 'cannot resolve <host>' with the VPC/VPN/endpoint hint, never the CA", async () => {
    const w = world();
    w.version = async () => {
      throw KubeApiError.network("ENOTFOUND", { url: "https://ABC.gr7.us-east-1.eks.amazonaws.com" });
    };
    const lines = await run(w);
    expect(failed(lines)).toEqual(["cluster reachable prod"]);
    expect(lines[0]!.detail).toContain("cannot resolve ABC.gr7.us-east-1.eks.amazonaws.com");
    expect(lines[0]!.fix).toMatch(/VPC/);
    expect(lines[0]!.fix).toContain("endpoint");
    expect(`${lines[0]!.detail} ${lines[0]!.fix}`).not.toMatch(/caData|TLS|certificate/);
  });

  it("a certificate that does not verify: the TLS line blames caData", async () => {
    const w = world();
    w.version = async () => {
      throw KubeApiError.network("DEPTH_ZERO_SELF_SIGNED_CERT", { url: "https://ABC.gr7.us-east-1.eks.amazonaws.com" });
    };
    const lines = await run(w);
    expect(lines[0]!.detail).toContain("the TLS connection to ABC.gr7.us-east-1.eks.amazonaws.com failed (DEPTH_ZERO_SELF_SIGNED_CERT)");
    expect(lines[0]!.fix).toContain("caData");
  });

  it("an unreachable cluster: reachable fails with where and why, the rest skip with 'cluster unreachable'", async () => {
    const w = world();
    w.version = async () => {
      throw KubeApiError.network("ECONNREFUSED", { url: "https://ABC.gr7.us-east-1.eks.amazonaws.com" });
    };
    const lines = await run(w);
    expect(failed(lines)).toEqual(["cluster reachable prod"]);
    expect(lines[0]!.detail).toContain("could not reach https://ABC.gr7.us-east-1.eks.amazonaws.com (ECONNREFUSED)");
    expect(lines[0]!.fix).toContain("make ABC.gr7.us-east-1.eks.amazonaws.com reachable");
    expect(lines.slice(1).every((l) => l.status === "skip" && l.detail === "cluster unreachable")).toBe(true);

    const notFound = await run(
      world(),
      {},
      {
        access: async (c) => {
          throw new EksConnectionError("not-found", c.name, c.region, `EKS cluster ${c.name} (${c.region}) does not exist`);
        },
      },
    );
    expect(failed(notFound)).toEqual(["cluster reachable prod"]);
    expect(notFound[0]!.fix).toContain("aws eks list-clusters --region us-east-1");
    expect(notFound.slice(1).every((l) => l.detail === "cluster unreachable")).toBe(true);
  });

  describe("ESO", () => {
    const noEso = (w: World) => {
      w.served = {};
      w.api.esoInstalled = false;
      return w;
    };

    it("not installed: fails with ESO_RESYNC set, or with FALLBACK_MODE=on-heal (nothing refreshes the pull Secrets); passes with FALLBACK_MODE=always", async () => {
      const resync = byName(await run(noEso(world())));
      expect(resync.get("cluster eso-crds prod")!.status).toBe("fail");
      expect(resync.get("cluster eso-crds prod")!.detail).toContain("ESO_RESYNC is set");
      expect(resync.get("cluster externalsecrets prod")).toMatchObject({ status: "skip", detail: "ESO not installed (external-secrets.io/v1 is not served)" });

      const onHeal = byName(await run(noEso(world()), { ESO_RESYNC: "" }));
      expect(onHeal.get("cluster eso-crds prod")!.status).toBe("fail");
      expect(onHeal.get("cluster eso-crds prod")!.detail).toContain("FALLBACK_MODE=on-heal: nothing refreshes the pull Secrets between heals");
      expect(onHeal.get("cluster eso-crds prod")!.fix).toMatch(/^set FALLBACK_MODE=always/);

      const always = await run(noEso(world()), { ESO_RESYNC: "", FALLBACK_MODE: "always" });
      expect(byName(always).get("cluster eso-crds prod")).toMatchObject({
        status: "pass",
        detail: "ESO not installed (external-secrets.io/v1 is not served); the fallback writes the pull Secrets on every rotation (FALLBACK_MODE=always)",
      });
      expect(failed(always)).toEqual([]);
    });

    it("an ESO serving only v1beta1 is told to upgrade", async () => {
      const w = noEso(world());
      w.served["external-secrets.io/v1beta1"] = ["externalsecrets"];
      const line = byName(await run(w)).get("cluster eso-crds prod")!;
      expect(line.detail).toContain("serves only external-secrets.io/v1beta1");
      expect(line.fix).toContain("upgrade External Secrets Operator to v0.16 or later");
    });

    it("a deadline cutting the v1beta1 look-up is reported as the deadline, not as ESO missing", async () => {
      const w = noEso(world());
      const cut = createClusterChecks({
        access: async () => ({ server: "https://x.example", caData: "Q0E=", token: BEARER }),
        openApi: async () => w.api,
        probe: () => ({
          version: async () => "v1.34.4",
          whoami: () => w.whoami(),
          can: async () => ({ allowed: true }),
          admission: async () => undefined,
          served: async (gv) => {
            if (gv === "external-secrets.io/v1beta1") throw new DeadlineExceededError("GET /apis/external-secrets.io/v1beta1");
            return undefined;
          },
        }),
      });
      const line = byName(await cut({ config: config(), tokenNow: () => NOW, deadline: NO_DEADLINE }));
      expect(line.get("cluster eso-crds prod")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^deadline:/) });
      expect(line.get("cluster oldest-token prod")!.detail).toMatch(/^deadline:/);
    });

    it("an ExternalSecret reading our secret that ESO did not sync fails the line, naming it and ESO's message; others do not count", async () => {
      const w = world();
      w.api.putExternalSecret(
        externalSecret("team-b", "ecr-pull-secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:production/ecr/credentials-AbC123", {
          status: "False",
          reason: "SecretSyncedError",
          message: "could not get secret data from provider",
        }),
      );
      // Another secret's ExternalSecret, broken: not ours.
      w.api.putExternalSecret(externalSecret("team-b", "db", "production/db/password", { status: "False", reason: "SecretSyncedError", message: "x" }));
      const lines = await run(w);
      expect(failed(lines)).toEqual(["cluster externalsecrets prod"]);
      const line = byName(lines).get("cluster externalsecrets prod")!;
      expect(line.detail).toBe(
        "1 of 2 ExternalSecrets reading production/ecr/credentials not synced: team-b/ecr-pull-secret (Ready=False, SecretSyncedError, could not get secret data from provider)",
      );
      expect(line.fix).toMatch(/^kubectl -n team-b describe externalsecret ecr-pull-secret /);
      expect(line.fix).toContain("ecr-token-rotator heal --cluster prod");
    });

    it("an ExternalSecret without a Ready condition yet is not synced; none reading our secret is a skip", async () => {
      const w = world();
      w.api.putExternalSecret(externalSecret("team-b", "new", "production/ecr/credentials"));
      expect(byName(await run(w)).get("cluster externalsecrets prod")!.detail).toContain("team-b/new (no Ready condition yet");

      const none = world();
      none.api.externalSecrets.clear();
      none.api.putExternalSecret(externalSecret("team-b", "db", "production/db/password", { status: "True" }));
      expect(byName(await run(none)).get("cluster externalsecrets prod")).toMatchObject({
        status: "skip",
        detail: "no ExternalSecret reads production/ecr/credentials (1 ExternalSecret in the cluster)",
      });
    });

    it("matches the product's secrets by name or ARN, including the combined secret and an unrendered template", () => {
      const m = productSecretNames(config({ COMBINED_SECRET_NAME: "production/ecr/all" }));
      expect(m.names).toEqual(["production/ecr/credentials", "production/ecr/all"]);
      for (const key of [
        "production/ecr/credentials",
        "production/ecr/all",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:production/ecr/credentials",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:production/ecr/credentials-AbC123",
      ])
        expect(m.matches(key), key).toBe(true);
      for (const key of ["production/ecr/credentials2", "x/production/ecr/credentials", "production/ecr/credentials-toolong1"])
        expect(m.matches(key), key).toBe(false);

      const template = productSecretNames(loadConfig({ AWS_REGION: "eu-west-1", EKS_CLUSTERS: "prod" }));
      expect(template.matches("ecr/123456789012/eu-west-1/credentials")).toBe(true);
      expect(template.matches("ecr/123456789012/us-east-1/credentials")).toBe(false);
    });
  });

  describe("oldest token", () => {
    it("an expired token fails with its namespace, how long ago, and the heal command for it", async () => {
      const w = world();
      const password = ecrPassword(new Date(NOW.getTime() - 2 * 3600_000 - 5 * 60_000), "EXPIRED");
      w.api.putSecret(pullSecret("team-b", password));
      const lines = await run(w);
      expect(failed(lines)).toEqual(["cluster oldest-token prod"]);
      const line = byName(lines).get("cluster oldest-token prod")!;
      expect(line.detail).toBe(
        `oldest token: ecr-pull-secret in namespace team-b (${HOST}) expired 2h05m ago (at 2026-11-24T05:55:00.000Z), below TOKEN_MIN_VALIDITY_MINUTES=60; 1 of 2 pull Secrets below it: team-b`,
      );
      expect(line.fix).toMatch(/^ecr-token-rotator heal --cluster prod --namespace team-b /);
      // Never the password, the auth field or the docker config.
      const json = JSON.stringify(lines);
      expect(json).not.toContain(password);
      expect(json).not.toContain(Buffer.from(`AWS:${password}`).toString("base64"));
    });

    it("a token valid for less than TOKEN_MIN_VALIDITY_MINUTES fails; above it passes", async () => {
      const w = world();
      w.api.putSecret(pullSecret("team-b", ecrPassword(new Date(NOW.getTime() + 35 * 60_000), "SOON")));
      const line = byName(await run(w)).get("cluster oldest-token prod")!;
      expect(line.status).toBe("fail");
      expect(line.detail).toContain("expires in 0h35m");
      expect(byName(await run(w, { TOKEN_MIN_VALIDITY_MINUTES: "30" })).get("cluster oldest-token prod")!.status).toBe("pass");
    });

    it("with TARGET_NAMESPACES a list, one GET per namespace; otherwise one namespace LIST and one Secret LIST by name", async () => {
      const listed = world();
      listed.api.addNamespace("kube-system");
      listed.api.putSecret(pullSecret("kube-system", ecrPassword(new Date(NOW.getTime() - 3600_000), "SYSTEM")));
      const all = byName(await run(listed)).get("cluster oldest-token prod")!;
      expect(all.status).toBe("pass");
      expect(listed.api.calls.filter((c) => c.resource === "secrets").map((c) => [c.method, c.options?.fieldSelector])).toEqual([
        ["listSecrets", "metadata.name=ecr-pull-secret"],
      ]);

      const named = world();
      await run(named, { TARGET_NAMESPACES: "team-a,team-c" });
      expect(named.api.calls.filter((c) => c.resource === "secrets" || c.resource === "namespaces").map((c) => `${c.method} ${c.namespace ?? ""}`)).toEqual([
        "readSecret team-a",
        "readSecret team-c",
      ]);
    });

    it("no pull Secret, or none with an ECR expiry: skipped, saying so", async () => {
      const w = world();
      w.api.secrets.clear();
      expect(byName(await run(w)).get("cluster oldest-token prod")).toMatchObject({
        status: "skip",
        detail: "no pull Secret ecr-pull-secret in the 2 target namespaces",
      });
      w.api.putSecret(pullSecret("team-a", "not-an-ecr-password"));
      expect(byName(await run(w)).get("cluster oldest-token prod")!.detail).toBe(
        "1 pull Secret ecr-pull-secret, none holding an ECR token with an embedded expiry",
      );
    });

    it("a forbidden read fails the line with the missing right", async () => {
      const w = world();
      w.api.faults.push((call) =>
        call.method === "listSecrets" ? new KubeApiError(403, 'secrets is forbidden: User "x" cannot list resource "secrets"') : undefined,
      );
      const line = byName(await run(w)).get("cluster oldest-token prod")!;
      expect(line.status).toBe("fail");
      expect(line.detail).toContain("forbidden (403) to list secrets cluster-wide");
      expect(line.fix).toContain("grant list on secrets (infra/k8s/components/fallback/rbac.yaml)");
    });
  });

  it("selects the clusters asked for; two clusters of one name are told apart by region", async () => {
    const w = world();
    const extra = { EKS_CLUSTERS: "us-east-1:prod,eu-west-1:prod,staging" };
    const lines = await run(w, extra);
    expect(lines.filter((l) => l.name.startsWith("cluster reachable ")).map((l) => l.name)).toEqual([
      "cluster reachable us-east-1:prod",
      "cluster reachable eu-west-1:prod",
      "cluster reachable staging",
    ]);
    expect(new Set(lines.map((l) => l.name)).size).toBe(lines.length);
    const one = await run(world(), extra, { clusters: ["staging"] });
    expect(one.map((l) => l.name)).toEqual(clusterCheckNames("staging"));
  });

  it("the deadline: a passed one fails every line as not verified; one that passes mid-way keeps the verdicts made and fails the rest so", async () => {
    const expired = await run(world(), {}, { deadline: deadlineAt(Date.now() - 1) });
    expect(expired.every((l) => l.status === "fail" && l.detail.startsWith("deadline:"))).toBe(true);

    const w = world();
    let asked = 0;
    const cut = createClusterChecks({
      access: async () => ({ server: "https://x.example", caData: "Q0E=", token: BEARER }),
      openApi: async () => w.api,
      probe: () => ({
        version: async () => "v1.34.4",
        whoami: () => w.whoami(),
        can: async () => {
          if (++asked > 3) throw new DeadlineExceededError("a review");
          return { allowed: true };
        },
        served: async () => ["externalsecrets"],
        admission: async () => undefined,
      }),
    });
    const out = await cut({ config: config(), tokenNow: () => NOW, deadline: NO_DEADLINE });
    const line = byName(out);
    expect(line.get("cluster reachable prod")!.status).toBe("pass");
    expect(line.get("cluster identity prod")!.status).toBe("pass");
    expect(line.get("cluster oldest-token prod")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^deadline:/) });
    expect(out.filter((l) => l.name.startsWith("cluster rbac ")).every((l) => l.status === "fail" && l.detail.startsWith("deadline:"))).toBe(true);
    expect(out.filter((l) => l.status === "fail").every((l) => l.detail.startsWith("deadline:"))).toBe(true);
  });

  it("the admission policies: each policy and binding read by name; all installed and denying passes", async () => {
    const w = world();
    const lines = byName(await run(w));
    expect(lines.get("cluster admission-policy prod")).toEqual({
      name: "cluster admission-policy prod",
      status: "pass",
      detail: `5 ValidatingAdmissionPolicies and their bindings (Deny) installed: ${ADMISSION_POLICIES.join(", ")}`,
    });
    // The rbac lines of the reads ask about a name (rbac.yaml grants them by resourceNames).
    expect(w.asked.filter((q) => q.resource.startsWith("validatingadmissionpolic"))).toEqual([
      { group: "admissionregistration.k8s.io", resource: "validatingadmissionpolicies", verb: "get", name: "ecr-token-rotator-secrets" },
      { group: "admissionregistration.k8s.io", resource: "validatingadmissionpolicybindings", verb: "get", name: "ecr-token-rotator-secrets" },
    ]);
  });

  it("a policy removed, or a binding that only warns, fails the admission-policy line naming them, with kubectl apply as the fix", async () => {
    const w = world();
    w.admission.delete("validatingadmissionpolicies/ecr-token-rotator-serviceaccounts");
    w.admission.set("validatingadmissionpolicybindings/ecr-token-rotator-events", {
      name: "ecr-token-rotator-events",
      policyName: "ecr-token-rotator-events",
      validationActions: ["Warn"],
    });
    const lines = await run(w);
    expect(failed(lines)).toEqual(["cluster admission-policy prod"]);
    expect(byName(lines).get("cluster admission-policy prod")).toMatchObject({
      detail:
        "not installed: policy ecr-token-rotator-serviceaccounts; not binding its policy with Deny: binding ecr-token-rotator-events (policy ecr-token-rotator-events, validationActions Warn): RBAC alone lets the product's identity create any Secret and patch any ServiceAccount or ExternalSecret",
      fix: "kubectl apply -f infra/k8s/components/fallback/admission-policy.yaml (Kubernetes >= 1.30: admissionregistration.k8s.io/v1)",
    });
  });

  it("a server that does not serve ValidatingAdmissionPolicy v1 (< 1.30): the fix is the upgrade", async () => {
    const w = world();
    w.admission.clear();
    w.served["admissionregistration.k8s.io/v1"] = ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"];
    const line = byName(await run(w)).get("cluster admission-policy prod")!;
    expect(line).toMatchObject({
      status: "fail",
      fix: expect.stringMatching(/^upgrade the cluster to Kubernetes >= 1\.30, then kubectl apply -f infra\/k8s\/components\/fallback\/admission-policy\.yaml/),
    });
  });

  it("reads of the policies refused (rbac.yaml without the rule): the line names the right to grant", async () => {
    const w = world();
    w.granted.delete("admissionregistration.k8s.io/validatingadmissionpolicies: get");
    const lines = await run(w);
    expect(failed(lines)).toEqual(["cluster rbac prod get validatingadmissionpolicies", "cluster admission-policy prod"]);
    expect(byName(lines).get("cluster admission-policy prod")).toMatchObject({
      detail: expect.stringContaining("forbidden (403) to get validatingadmissionpolicies"),
      fix: expect.stringContaining("grant get on validatingadmissionpolicies (infra/k8s/components/fallback/rbac.yaml)"),
    });
    expect(byName(lines).get("cluster rbac prod get validatingadmissionpolicies")!.fix).toContain(
      `with resourceNames: [${ADMISSION_POLICIES.map((n) => `"${n}"`).join(", ")}]`,
    );
  });

  it("the optional diagnosis-secrets role: bound passes, not bound is said (skip), asked about a Secret other than the pull secret", async () => {
    const w = world();
    const off = byName(await run(w)).get("cluster optional-role prod diagnosis-secrets")!;
    expect(off).toEqual({
      name: "cluster optional-role prod diagnosis-secrets",
      status: "skip",
      detail:
        "not bound: the diagnosis cannot read other pull Secrets (it says what it could not check); optional, off by default: kubectl apply -f infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml binds ecr-token-rotator-diagnosis-secrets",
    });
    const asked = w.asked.find((q) => q.resource === "secrets" && q.name !== undefined && q.name !== "ecr-pull-secret");
    expect(asked).toEqual({ group: "", resource: "secrets", verb: "get", name: "ecr-token-rotator-doctor-probe" });
    w.diagnosisSecrets = true;
    expect(byName(await run(w)).get("cluster optional-role prod diagnosis-secrets")).toMatchObject({
      status: "pass",
      detail: expect.stringMatching(/^bound \(ecr-token-rotator-diagnosis-secrets\): the diagnosis reads the other pull Secrets/),
    });
  });

  it("no bearer token, password or auth value in any line, even when an error message echoes them", async () => {
    const w = world();
    const password = ecrPassword(new Date(NOW.getTime() - 60_000), "LEAK");
    w.api.putSecret(pullSecret("team-b", password));
    w.served = {};
    w.api.esoInstalled = true;
    w.version = async () => {
      throw new Error(`boom Authorization: Bearer ${BEARER}`);
    };
    const unreachable = JSON.stringify(await run(w));
    w.version = async () => "v1";
    const expired = JSON.stringify(await run(w));
    for (const json of [unreachable, expired]) {
      expect(json).not.toContain(BEARER);
      expect(json).not.toContain(password);
      expect(json).not.toContain(Buffer.from(`AWS:${password}`).toString("base64"));
    }
  });
});
