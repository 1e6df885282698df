/**
 * infra/k8s manifests, checked structurally (and, through the real ESO template engine, for
 * what they produce): external-secrets.io/v1 only, the ExternalSecret templates yield a
 * kubernetes.io/dockerconfigjson pull secret from the rotator's Secrets Manager value, the
 * refreshInterval fits the freshness budget, and the RBAC is exactly what the fallback needs.
 * (manifests-apiserver.test.ts applies them to a real kube-apiserver.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import type { RegistryCredential } from "../../src/rotation/ecr";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { registrySecretValue } from "../../src/rotation/secret-payload";
import {
  ADMISSION_POLICIES,
  ADMISSION_POLICY_MANIFEST,
  DIAGNOSIS_SECRETS_MANIFEST,
  DIAGNOSIS_SECRETS_ROLE,
  PRODUCT_RIGHTS,
  RESTART_RIGHTS,
  rightKey,
} from "../../src/kube/rights";
import { loadConfig } from "../../src/config/config";
import { ensureEsoTemplateBinary, renderEsoTemplate, SEED_DOCKERCONFIGJSON_TEMPLATE } from "../support/eso-template";
import { k8sManifestFiles, REPO, type Json } from "./support";

const K8S = join(REPO, "infra/k8s");
const TOKEN_LIFE_SECONDS = 12 * 3600;

interface Manifest {
  file: string;
  doc: Json;
}

const files = k8sManifestFiles();
const manifests: Manifest[] = files.flatMap((file) =>
  loadAll(readFileSync(join(K8S, file), "utf8"))
    .filter((doc) => doc !== null && doc !== undefined)
    .map((doc) => ({ file, doc: doc as Json })),
);
const ofKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const policies = () => ofKind("ValidatingAdmissionPolicy");
/** PULL_SECRET_NAME's default: the name rbac.yaml's resourceNames and admission-policy.yaml carry. */
const DEFAULT_PULL_SECRET_NAME = "ecr-pull-secret";
const one = (kind: string) => {
  const docs = ofKind(kind);
  expect(docs, kind).toHaveLength(1);
  return docs[0];
};

/** Go's time.ParseDuration for h/m/s/ms (what ESO accepts in refreshInterval). */
export function goDurationSeconds(text: string): number {
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

/** The schedule interval serverless.yml deploys by default (params.default.scheduleRate). */
function defaultScheduleSeconds(): number {
  const yml = readFileSync(join(REPO, "serverless.yml"), "utf8");
  const match = /^\s+scheduleRate:\s*"rate\((\d+) hours?\)"/m.exec(yml);
  if (!match) throw new Error("serverless.yml: no scheduleRate default of the form rate(N hours)");
  return Number(match[1]) * 3600;
}

/** The Argo CD repository Secret's ExternalSecret (not a pull secret). */
const ARGOCD_FILE = "components/argocd/argocd-ecr-helm-repo.yaml";
const argocd = () => {
  const docs = manifests.filter((m) => m.file === ARGOCD_FILE).map((m) => m.doc);
  expect(docs).toHaveLength(1);
  return docs[0];
};

/** Every ExternalSecret spec: the standalone ones and the ClusterExternalSecret's template. */
const externalSecretSpecs = (): { name: string; spec: Json }[] => [
  ...ofKind("ExternalSecret").map((doc) => ({ name: `ExternalSecret ${doc.metadata.name}`, spec: doc.spec })),
  ...ofKind("ClusterExternalSecret").map((doc) => ({ name: `ClusterExternalSecret ${doc.metadata.name}`, spec: doc.spec.externalSecretSpec })),
];
/** The ExternalSecret specs that make the pull secret (all but the Argo CD one). */
const pullSecretSpecs = (): { name: string; spec: Json }[] => [
  ...manifests
    .filter((m) => m.doc.kind === "ExternalSecret" && m.file !== ARGOCD_FILE)
    .map((m) => ({ name: `ExternalSecret ${m.doc.metadata.name}`, spec: m.doc.spec })),
  ...ofKind("ClusterExternalSecret").map((doc) => ({ name: `ClusterExternalSecret ${doc.metadata.name}`, spec: doc.spec.externalSecretSpec })),
];
const pullExternalSecret = () => {
  const docs = manifests.filter((m) => m.doc.kind === "ExternalSecret" && m.file !== ARGOCD_FILE).map((m) => m.doc);
  expect(docs).toHaveLength(1);
  return docs[0];
};

describe("infra/k8s manifests", () => {
  it("are the documents expected, each well-formed", () => {
    expect(files.sort()).toEqual([
      "base/cluster-external-secret.yaml",
      "base/cluster-secret-store.yaml",
      "components/argocd/argocd-ecr-helm-repo.yaml",
      "components/diagnosis-secrets/diagnosis-secrets-rbac.yaml",
      "components/fallback/admission-policy.yaml",
      "components/fallback/rbac.yaml",
      "external-secret.yaml",
      "pod-restart-rbac.yaml",
    ]);
    expect(manifests.map((m) => `${m.doc.apiVersion} ${m.doc.kind}`).sort()).toEqual([
      ...Array<string>(5).fill("admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy"),
      ...Array<string>(5).fill("admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding"),
      "external-secrets.io/v1 ClusterExternalSecret",
      "external-secrets.io/v1 ClusterSecretStore",
      "external-secrets.io/v1 ExternalSecret",
      "external-secrets.io/v1 ExternalSecret",
      "rbac.authorization.k8s.io/v1 ClusterRole",
      "rbac.authorization.k8s.io/v1 ClusterRole",
      "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
      "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
      "rbac.authorization.k8s.io/v1 Role",
      "rbac.authorization.k8s.io/v1 RoleBinding",
    ]);
    for (const { file, doc } of manifests) {
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(doc.metadata.namespace, `${file}: no hard-coded namespace`).toBeUndefined();
    }
  });

  it("use the served ESO API (v1), never v1beta1", () => {
    for (const file of files) expect(readFileSync(join(K8S, file), "utf8"), file).not.toMatch(/external-secrets\.io\/v1beta1/);
  });

  it("have a ClusterSecretStore for AWS Secrets Manager that the ExternalSecrets reference", () => {
    const store = one("ClusterSecretStore");
    expect(store.spec.provider.aws.service).toBe("SecretsManager");
    expect(store.spec.provider.aws.region).toMatch(/^[a-z]{2}(-[a-z]+)+-\d+$/);
    // A ClusterSecretStore's service-account reference must name its namespace.
    const sa = store.spec.provider.aws.auth?.jwt?.serviceAccountRef;
    if (sa) expect(sa.namespace).toBeTruthy();
    for (const { name, spec } of externalSecretSpecs()) {
      expect(spec.secretStoreRef, name).toEqual({ kind: "ClusterSecretStore", name: store.metadata.name });
    }
  });

  it("keep the freshness budget: rotation interval + refreshInterval < 12 h, refreshInterval ≤ 1h", () => {
    const rotation = defaultScheduleSeconds();
    expect(rotation).toBe(10 * 3600);
    for (const { name, spec } of externalSecretSpecs()) {
      const refresh = goDurationSeconds(spec.refreshInterval);
      expect(refresh, `${name}: 0s would sync only once`).toBeGreaterThan(0);
      expect(refresh, name).toBeLessThanOrEqual(3600);
      expect(rotation + refresh, name).toBeLessThan(TOKEN_LIFE_SECONDS);
      expect(spec.refreshPolicy ?? "Periodic", `${name}: force-sync needs Periodic or OnChange`).toBe("Periodic");
    }
    expect(goDurationSeconds("1h0m0s")).toBe(3600);
    expect(goDurationSeconds("10h")).toBe(36000);
  });

  it("select namespaces with namespaceSelectors (the list), not the deprecated fields", () => {
    const ces = one("ClusterExternalSecret");
    expect(ces.spec.namespaceSelectors).toEqual([{ matchLabels: { "ecr-token-rotator/pull-secret": "enabled" } }]);
    expect(ces.spec.namespaceSelector).toBeUndefined();
    expect(ces.spec.namespaces).toBeUndefined();
  });

  it("keep the ExternalSecret template of docs/facts.md §3 verbatim", () => {
    for (const { name, spec } of pullSecretSpecs()) {
      expect(spec.target.template.type, name).toBe("kubernetes.io/dockerconfigjson");
      expect(spec.target.template.data[".dockerconfigjson"], name).toBe(SEED_DOCKERCONFIGJSON_TEMPLATE);
    }
  });

  it("label their ExternalSecrets so ESO_RESYNC can find them", () => {
    const resyncLabels = [pullExternalSecret().metadata.labels, argocd().metadata.labels, one("ClusterExternalSecret").spec.externalSecretMetadata.labels];
    for (const labels of resyncLabels) expect(labels).toMatchObject({ "ecr-token-rotator/resync": "true" });
  });
});

describe("what the ExternalSecrets produce (ESO's template engine, the rotator's secret value)", () => {
  const host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
  const password = "eyJwYXlsb2FkIjoiQUJDIiwiZGF0YWtleSI6IkRFRiJ9+/=:with:colons";
  const credential: RegistryCredential = {
    registry: parseRegistryHost(host),
    username: "AWS",
    password,
    expiresAt: new Date("2026-11-24T20:00:00.000Z"),
    proxyEndpoint: `https://${host}`,
  };
  // What the rotator writes to Secrets Manager, as ESO's provider reads it (JSON properties).
  const stored = JSON.parse(JSON.stringify(registrySecretValue(credential))) as Record<string, string>;

  beforeAll(async () => {
    await ensureEsoTemplateBinary();
  });

  it("renders a dockerconfigjson with the registry host and the token, from the stored properties", async () => {
    for (const { name, spec } of pullSecretSpecs()) {
      const data: Record<string, string> = {};
      for (const item of spec.data) {
        expect(item.remoteRef.key, name).toBe("production/ecr/credentials");
        expect(stored, `${name}: property ${item.remoteRef.property}`).toHaveProperty(item.remoteRef.property);
        data[item.secretKey] = stored[item.remoteRef.property]!;
      }
      const rendered = await renderEsoTemplate(spec.target.template.data[".dockerconfigjson"], data);
      const config = JSON.parse(rendered) as { auths: Record<string, Json> };
      expect(Object.keys(config.auths), name).toEqual([host]);
      expect(config.auths[host], name).toEqual({ username: "AWS", password, auth: Buffer.from(`AWS:${password}`).toString("base64") });
      // The same as the rotator's own dockerconfigjson property for that registry.
      expect(config.auths[host]).toMatchObject(JSON.parse(stored.dockerconfigjson!).auths[host]);
    }
  });

  it("renders the Argo CD repository Secret (Helm, OCI) with the registry host and the token", async () => {
    const doc = argocd();
    expect(doc.spec.target.template.metadata.labels).toEqual({ "argocd.argoproj.io/secret-type": "repository" });
    const data: Record<string, string> = {};
    for (const item of doc.spec.data) {
      expect(item.remoteRef.key).toBe("production/ecr/credentials");
      data[item.secretKey] = stored[item.remoteRef.property]!;
    }
    const rendered: Record<string, string> = {};
    for (const [key, template] of Object.entries(doc.spec.target.template.data as Record<string, string>))
      rendered[key] = await renderEsoTemplate(template, data);
    expect(rendered).toEqual({ name: "ecr", type: "helm", enableOCI: "true", url: host, username: "AWS", password });
  });
});

describe("RBAC for the Kubernetes fallback", () => {
  const inFile = (file: string, kind: string) => {
    const docs = manifests.filter((m) => m.file === file && m.doc.kind === kind).map((m) => m.doc);
    expect(docs, `${file} ${kind}`).toHaveLength(1);
    return docs[0];
  };
  const role = () => inFile("components/fallback/rbac.yaml", "ClusterRole");

  const grants = () =>
    new Set<string>(
      role().rules.flatMap((rule: Json) =>
        rule.resources.flatMap((resource: string) => rule.verbs.map((verb: string) => `${rule.apiGroups.join(",") || "core"}/${resource}: ${verb}`)),
      ),
    );

  it("grants exactly the product's rights (src/kube/rights.ts), and never update, delete, escalate or wildcards", () => {
    expect([...grants()].sort()).toEqual(PRODUCT_RIGHTS.map(rightKey).sort());
    const text = JSON.stringify(role().rules);
    for (const forbidden of ['"update"', '"delete"', '"deletecollection"', '"*"', '"escalate"', '"bind"', '"impersonate"', '"watch"'])
      expect(text).not.toContain(forbidden);
  });

  it("grants exactly the requests the code makes (every KubeApi method of both clients), nothing more", () => {
    // Each KubeApi request names its verb and resource: the node:https client passes
    // { verb, resource } with every call, the client-node adapter passes "verb", "resource" for its errors.
    // Read from every source file, so the check follows the code wherever it moves.
    const source = readdirSync(join(REPO, "src"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(join(REPO, "src", f), "utf8"))
      .join("\n");
    const group = (resource: string) =>
      resource === "externalsecrets" || resource === "clusterexternalsecrets"
        ? "external-secrets.io"
        : resource.startsWith("validatingadmissionpolic")
          ? "admissionregistration.k8s.io"
          : "core";
    const used = (pattern: RegExp) => new Set([...source.matchAll(pattern)].map((m) => `${group(m[2]!)}/${m[2]}: ${m[1]}`));
    // (or through its `at("verb", "resource")` helper).
    const httpClient = new Set([...used(/\{\s*verb:\s*"(\w+)",\s*resource:\s*"(\w+)"/g), ...used(/\bat\(\s*"(\w+)",\s*"(\w+)"/g)]);
    // The client-node adapter (and the engine's error descriptions) name them as ("verb", "resource") arguments.
    const clientNode = used(/"(get|list|watch|create|update|patch|delete|deletecollection)",\s*"(\w+)"/g);
    expect(httpClient.size).toBeGreaterThanOrEqual(10);
    // The doctor's reads by name (kube/reviews.ts, beside the reviews) are not KubeApi requests:
    // they take the node:https transport whatever KUBE_CLIENT, so the client-node adapter lacks them.
    const doctorReads = new Set(PRODUCT_RIGHTS.filter((r) => r.onlyNamed).map(rightKey));
    expect([...doctorReads].sort()).toEqual([
      "admissionregistration.k8s.io/validatingadmissionpolicies: get",
      "admissionregistration.k8s.io/validatingadmissionpolicybindings: get",
    ]);
    expect([...clientNode].sort()).toEqual([...httpClient].filter((k) => !doctorReads.has(k)).sort());
    expect([...grants()].sort()).toEqual([...httpClient].sort());
    // …and the list the doctor checks the cluster against is that same set.
    expect(PRODUCT_RIGHTS.map(rightKey).sort()).toEqual([...httpClient].sort());
    // …and the node:https client's requests use GET (get/list), POST (create) and PATCH (patch) only.
    const httpSource = readFileSync(join(REPO, "src", "kube", "http-client.ts"), "utf8");
    const methods = [...httpSource.matchAll(/\bmethod: "([A-Z]+)"/g)].map((m) => m[1]);
    expect([...new Set(methods)].sort()).toEqual(["GET", "PATCH", "POST"]);
    expect(httpSource).toMatch(/method: "GET" \| "POST" \| "PATCH";/);
  });

  it("binds the ClusterRole to the group the EKS access entry maps the function's role to", () => {
    const binding = inFile("components/fallback/rbac.yaml", "ClusterRoleBinding");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role().metadata.name });
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "ecr-token-rotator" }]);
  });

  it("says why for every rule (a comment right above it)", () => {
    const lines = readFileSync(join(K8S, "components/fallback/rbac.yaml"), "utf8").split("\n");
    const ruleLines = lines.map((line, i) => ({ line, i })).filter(({ line }) => /^\s+- apiGroups:/.test(line));
    expect(ruleLines).toHaveLength(role().rules.length);
    for (const { i } of ruleLines) expect(lines[i - 1], `line ${i + 1}`).toMatch(/^\s+#/);
  });

  it("grants the Secret reads and patches for the pull secret's name only (resourceNames), create unnamed", () => {
    const secretRules = role().rules.filter((r: Json) => r.resources.includes("secrets"));
    const named = PRODUCT_RIGHTS.filter((r) => r.pullSecretOnly).map((r) => r.verb);
    expect(named.sort()).toEqual(["get", "list", "patch"]);
    expect(secretRules).toEqual([
      { apiGroups: [""], resources: ["secrets"], resourceNames: [DEFAULT_PULL_SECRET_NAME], verbs: ["get", "list", "patch"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
    ]);
    // No other rule is narrowed by name but the doctor's reads of the admission policies (the doctor asks about the name only for these rights).
    for (const rule of role().rules.filter((r: Json) => !r.resources.includes("secrets") && r.apiGroups[0] !== "admissionregistration.k8s.io"))
      expect(rule.resourceNames, rule.resources.join()).toBeUndefined();
  });

  it("grants the doctor get on exactly admission-policy.yaml's policies and bindings, by name (ADMISSION_POLICIES)", () => {
    const rules = role().rules.filter((r: Json) => r.apiGroups.includes("admissionregistration.k8s.io"));
    expect(rules).toEqual([
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
        resourceNames: [...ADMISSION_POLICIES],
        verbs: ["get"],
      },
    ]);
    expect(policies().map((p) => p.metadata.name)).toEqual([...ADMISSION_POLICIES]);
    expect(ofKind("ValidatingAdmissionPolicyBinding").map((b) => b.metadata.name)).toEqual([...ADMISSION_POLICIES]);
    expect(ADMISSION_POLICY_MANIFEST).toBe("infra/k8s/components/fallback/admission-policy.yaml");
    for (const r of PRODUCT_RIGHTS.filter((r) => r.onlyNamed)) expect(r.onlyNamed).toEqual(ADMISSION_POLICIES);
  });

  it("names the pull secret the same in rbac.yaml, admission-policy.yaml and the configuration's default", () => {
    expect(loadConfig({ AWS_REGION: "us-east-1" }).kubernetes.pullSecretName).toBe(DEFAULT_PULL_SECRET_NAME);
    const literals = policies().flatMap((p) => (p.spec.variables ?? []).filter((v: Json) => v.name === "pullSecretNames").map((v: Json) => v.expression));
    expect(literals).toEqual([`['${DEFAULT_PULL_SECRET_NAME}']`, `['${DEFAULT_PULL_SECRET_NAME}']`]);
    expect(readFileSync(join(K8S, "components/fallback/admission-policy.yaml"), "utf8")).toContain("change together with rbac.yaml resourceNames");
  });

  it("keeps the diagnosis's read of any Secret in an optional ClusterRole of its own file, bound to the same group", () => {
    const optional = inFile("components/diagnosis-secrets/diagnosis-secrets-rbac.yaml", "ClusterRole");
    expect(`infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml`).toBe(DIAGNOSIS_SECRETS_MANIFEST);
    expect(optional.metadata.name).toBe(DIAGNOSIS_SECRETS_ROLE);
    expect(optional.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }]);
    const binding = inFile("components/diagnosis-secrets/diagnosis-secrets-rbac.yaml", "ClusterRoleBinding");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DIAGNOSIS_SECRETS_ROLE });
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "ecr-token-rotator" }]);
    // Not part of rbac.yaml: applying the product's RBAC does not bind it.
    expect(readFileSync(join(K8S, "components/fallback/rbac.yaml"), "utf8")).not.toContain(`name: ${DIAGNOSIS_SECRETS_ROLE}`);
  });
});

describe("admission policy for what RBAC cannot narrow", () => {
  const bindings = () => ofKind("ValidatingAdmissionPolicyBinding");

  it("binds every policy with Deny, fails closed, and applies only to the group rbac.yaml binds", () => {
    expect(
      policies()
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(
      bindings()
        .map((b) => b.spec.policyName)
        .sort(),
    );
    for (const b of bindings()) expect(b.spec, b.metadata.name).toEqual({ policyName: b.metadata.name, validationActions: ["Deny"] });
    for (const p of policies()) {
      expect(p.spec.failurePolicy, p.metadata.name).toBe("Fail");
      expect(p.spec.matchConditions, p.metadata.name).toEqual([{ name: "rotator-group", expression: "'ecr-token-rotator' in request.userInfo.groups" }]);
    }
  });

  it("covers every write rbac.yaml grants (and Events, which the product may write later)", () => {
    const covered = new Set(
      policies().flatMap((p) =>
        p.spec.matchConstraints.resourceRules.flatMap((r: Json) =>
          r.resources.flatMap((res: string) => r.operations.map((op: string) => `${r.apiGroups.join(",") || "core"}/${res}: ${op}`)),
        ),
      ),
    );
    const writes = PRODUCT_RIGHTS.filter((r) => r.verb === "create" || r.verb === "patch").map(
      (r) => `${r.group || "core"}/${r.resource}: ${r.verb === "create" ? "CREATE" : "UPDATE"}`,
    );
    for (const w of [...writes, "core/events: CREATE", "core/events: UPDATE"]) expect([...covered], w).toContain(w);
  });
});

describe("RBAC for the optional pod restart (infra/k8s/pod-restart-rbac.yaml)", () => {
  const docs = () => manifests.filter((m) => m.file === "pod-restart-rbac.yaml").map((m) => m.doc);

  it("a Role granting exactly RESTART_RIGHTS (the eviction subresource), bound per namespace to the product's group", () => {
    const [role, binding] = [docs().find((d) => d.kind === "Role"), docs().find((d) => d.kind === "RoleBinding")];
    const granted = role.rules.flatMap((rule: Json) =>
      rule.resources.flatMap((resource: string) => rule.verbs.map((verb: string) => `${rule.apiGroups.join(",") || "core"}/${resource}: ${verb}`)),
    );
    expect(granted.sort()).toEqual(RESTART_RIGHTS.map(rightKey).sort());
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name });
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "ecr-token-rotator" }]);
    // A RoleBinding per namespace is the scope: nothing cluster-wide, no delete on pods.
    expect(
      docs()
        .map((d) => d.kind)
        .sort(),
    ).toEqual(["Role", "RoleBinding"]);
    expect(JSON.stringify(role.rules)).not.toMatch(/"delete"|"\*"/);
  });

  it("the eviction the code sends is the right it grants, and rbac.yaml does not grant it", () => {
    const http = readFileSync(join(REPO, "src/kube/http-client.ts"), "utf8");
    expect(http).toMatch(/where: \{ verb: "create", resource: "pods\/eviction"/);
    expect(readFileSync(join(K8S, "components/fallback/rbac.yaml"), "utf8")).not.toContain("pods/eviction");
  });
});
