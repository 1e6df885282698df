/**
 * The rotator's Kubernetes identity cannot be turned into more rights. On the bed's real
 * kube-apiserver, with only the shipped manifests applied (infra/k8s/components/fallback/rbac.yaml and
 * admission-policy.yaml), as the function's IAM role (an EKS token through the bed's TokenReview
 * webhook, mapped to the group ecr-token-rotator), each escalation an attacker holding that
 * identity would try is refused by the API server — by RBAC (a resourceNames rule) or by a
 * ValidatingAdmissionPolicy — and each test names the attempt and the refusal. The writes the
 * product makes still succeed (raw requests, as the product sends them: merge PATCH, POST).
 */
import https from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEksToken } from "../../src/eks/token";
import { clusterForceSyncPatch, decideServiceAccount, forceSyncPatch } from "../../src/kube/decide";
import { startBed, type Bed } from "../bed/index";
import { adminClient, type AdminClient } from "../bed/kubelet";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { REPO } from "./support";

const APP = "shop";
const PULL = "ecr-pull-secret";
const MANAGED = { "app.kubernetes.io/managed-by": "ecr-token-rotator" };
const MERGE = "application/merge-patch+json";
const ESO = "/apis/external-secrets.io/v1";

let bed: Bed;
let admin: AdminClient;
let token: string;

interface Answer {
  status: number;
  message: string;
  body: { message?: string; reason?: string; items?: Array<{ metadata: { name: string; namespace: string } }> };
}

/** One request as the rotator (its EKS token), straight to the API server; the Status message on a refusal. */
function asRotator(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Answer> {
  const url = new URL(bed.apiServerUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method,
        ca: bed.caPem,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Answer["body"];
          resolve({ status: res.statusCode ?? 0, message: parsed.message ?? "", body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const policyDenied = (policy: string) => new RegExp(`is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request`);
const rbacDenied = (verb: string, resource: string, where: string) =>
  new RegExp(`User "ecr-token-rotator" cannot ${verb} resource "${resource}" in API group "[^"]*" ${where}`);

const pullSecret = (namespace: string, overrides: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: PULL, namespace, labels: MANAGED },
  type: "kubernetes.io/dockerconfigjson",
  data: { ".dockerconfigjson": Buffer.from('{"auths":{}}').toString("base64") },
  ...overrides,
});

const repoDoc = (file: string) => load(readFileSync(join(REPO, "infra/k8s", file), "utf8")) as Record<string, unknown> & { metadata: Record<string, unknown> };

beforeAll(async () => {
  bed = await startBed({ rbacManifests: PRODUCT_MANIFESTS });
  admin = adminClient(bed);
  const id = bed.identities.rotator!;
  ({ token } = await createEksToken({
    clusterName: bed.clusterName,
    region: bed.region,
    credentials: { accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey },
  }));
  await bed.createNamespace(APP);
  await bed.createNamespace("eso-owned");
  await admin.call("POST", "/api/v1/namespaces", { metadata: { name: "kube-system" } }, { ok: [201, 409] });
  await admin.call("POST", "/api/v1/namespaces/kube-system/serviceaccounts", { metadata: { name: "default" } }, { ok: [201, 409] });
  // What an attacker would want: another Secret, and a ServiceAccount with pull secrets of its own.
  await admin.call("POST", `/api/v1/namespaces/${APP}/secrets`, {
    metadata: { name: "db-password" },
    type: "Opaque",
    stringData: { password: "HUNTER2-do-not-leak" },
  });
  await admin.call("POST", `/api/v1/namespaces/${APP}/serviceaccounts`, {
    metadata: { name: "builder", annotations: { team: "shop" } },
    imagePullSecrets: [{ name: "regcred" }, { name: "mirror" }],
  });
  // The repository's ExternalSecret and ClusterExternalSecret (no ESO controller needed).
  await admin.call("POST", `${ESO}/namespaces/${APP}/externalsecrets`, {
    ...repoDoc("external-secret.yaml"),
    metadata: { ...repoDoc("external-secret.yaml").metadata, namespace: APP },
  });
  await admin.call("POST", `${ESO}/clusterexternalsecrets`, repoDoc("base/cluster-external-secret.yaml"));
  // A pull secret ESO owns (creationPolicy: Owner): ESO's to write, not the rotator's.
  await admin.call("POST", "/api/v1/namespaces/eso-owned/secrets", {
    ...pullSecret("eso-owned"),
    metadata: {
      name: PULL,
      namespace: "eso-owned",
      ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: PULL, uid: "0b3f-eso" }],
    },
  });
});

afterAll(async () => {
  admin?.close();
  await bed?.stop();
});

describe("the rotator's identity (EKS token, group ecr-token-rotator) with only the shipped manifests", () => {
  it("is who the manifests bind: user ecr-token-rotator in group ecr-token-rotator", async () => {
    const review = await asRotator("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(review.status).toBe(201);
    expect((review.body as { status?: { userInfo?: { username?: string; groups?: string[] } } }).status?.userInfo).toMatchObject({
      username: "ecr-token-rotator",
      groups: expect.arrayContaining(["ecr-token-rotator"]),
    });
  });

  it("creating a kubernetes.io/service-account-token Secret (for kube-system's ServiceAccount too) is refused by admission: not a dockerconfigjson", async () => {
    for (const namespace of ["kube-system", APP]) {
      // Even named and labelled like the pull secret: the type gives it away.
      const attempt = await asRotator("POST", `/api/v1/namespaces/${namespace}/secrets`, {
        ...pullSecret(namespace),
        metadata: { name: PULL, namespace, labels: MANAGED, annotations: { "kubernetes.io/service-account.name": "default" } },
        type: "kubernetes.io/service-account-token",
        data: undefined,
      });
      expect(attempt.status, namespace).toBe(403);
      expect(attempt.message).toMatch(policyDenied("ecr-token-rotator-secrets"));
      expect(attempt.message).toContain("the rotator writes only Secrets of type kubernetes.io/dockerconfigjson, not kubernetes.io/service-account-token");
      // Nothing was stored.
      expect((await admin.call("GET", `/api/v1/namespaces/${namespace}/secrets/${PULL}`, undefined, { ok: [404] })).status).toBe(404);
    }
  });

  it("reading another Secret is refused by RBAC (resourceNames: only the pull secret)", async () => {
    const attempt = await asRotator("GET", `/api/v1/namespaces/${APP}/secrets/db-password`);
    expect(attempt.status).toBe(403);
    expect(attempt.message).toMatch(rbacDenied("get", "secrets", `in the namespace "${APP}"`));
    expect(JSON.stringify(attempt.body)).not.toContain("HUNTER2");
  });

  it("listing Secrets without the pull secret's name selector is refused by RBAC (cluster-wide and in a namespace); with it, only pull secrets come back", async () => {
    for (const [path, where] of [
      ["/api/v1/secrets?limit=500", "at the cluster scope"],
      [`/api/v1/namespaces/${APP}/secrets?limit=500`, `in the namespace "${APP}"`],
      [`/api/v1/secrets?fieldSelector=${encodeURIComponent("metadata.name=db-password")}&limit=500`, "at the cluster scope"],
      ["/api/v1/secrets?watch=true", "at the cluster scope"],
    ] as const) {
      const attempt = await asRotator("GET", path);
      expect(attempt.status, path).toBe(403);
      expect(attempt.message, path).toMatch(rbacDenied(path.includes("watch") ? "watch" : "list", "secrets", where));
    }
    // The product's own LIST (src/kube/apply.ts: fieldSelector=metadata.name=PULL_SECRET_NAME) works.
    const own = await asRotator("GET", `/api/v1/secrets?fieldSelector=${encodeURIComponent(`metadata.name=${PULL}`)}&limit=500`);
    expect(own.status).toBe(200);
    expect(own.body.items!.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual([`eso-owned/${PULL}`]);
  });

  it("a pull Secret of the wrong type, without the label, or with another name is refused by admission; the product's own is created", async () => {
    const attempts = [
      {
        what: "type Opaque",
        body: pullSecret(APP, { type: "Opaque" }),
        says: "the rotator writes only Secrets of type kubernetes.io/dockerconfigjson, not Opaque",
      },
      {
        what: "no managed-by label",
        body: { ...pullSecret(APP), metadata: { name: PULL, namespace: APP } },
        says: "a Secret the rotator writes carries the label app.kubernetes.io/managed-by=ecr-token-rotator",
      },
      {
        what: "another name",
        body: { ...pullSecret(APP), metadata: { name: "db-password-2", namespace: APP, labels: MANAGED } },
        says: `the rotator writes only the pull Secret ${PULL}, not db-password-2`,
      },
    ];
    for (const { what, body, says } of attempts) {
      const attempt = await asRotator("POST", `/api/v1/namespaces/${APP}/secrets`, body);
      expect(attempt.status, what).toBe(403);
      expect(attempt.message, what).toMatch(policyDenied("ecr-token-rotator-secrets"));
      expect(attempt.message, what).toContain(says);
    }
    // The write the product makes (src/kube/decide.ts decideSecret: create) is admitted.
    expect((await asRotator("POST", `/api/v1/namespaces/${APP}/secrets`, pullSecret(APP))).status).toBe(201);
  });

  it("patching the pull secret out of the product's hands (dropping the label) or ESO's pull secret is refused by admission", async () => {
    const unlabel = await asRotator(
      "PATCH",
      `/api/v1/namespaces/${APP}/secrets/${PULL}`,
      { metadata: { labels: { "app.kubernetes.io/managed-by": null } } },
      MERGE,
    );
    expect(unlabel.status).toBe(403);
    expect(unlabel.message).toMatch(policyDenied("ecr-token-rotator-secrets"));
    const esoOwned = await asRotator(
      "PATCH",
      `/api/v1/namespaces/eso-owned/secrets/${PULL}`,
      { metadata: { labels: MANAGED }, data: { ".dockerconfigjson": Buffer.from('{"auths":{"evil.example":{}}}').toString("base64") } },
      MERGE,
    );
    expect(esoOwned.status).toBe(403);
    expect(esoOwned.message).toContain("the rotator does not write a Secret that External Secrets Operator manages");
    // The product's update (a new docker config, its label) is admitted.
    const update = await asRotator(
      "PATCH",
      `/api/v1/namespaces/${APP}/secrets/${PULL}`,
      { metadata: { labels: MANAGED }, data: { ".dockerconfigjson": Buffer.from('{"auths":{"a.example":{}}}').toString("base64") } },
      MERGE,
    );
    expect(update.status).toBe(200);
  });

  it("re-pointing an ExternalSecret's remoteRef (or any change beyond force-sync) is refused by admission; the product's force-sync is admitted", async () => {
    const path = `${ESO}/namespaces/${APP}/externalsecrets/${PULL}`;
    const attempts = [
      { what: "remoteRef re-pointed", patch: { spec: { data: [{ secretKey: "token", remoteRef: { key: "production/db/root", property: "password" } }] } } },
      { what: "target renamed", patch: { spec: { target: { name: "readable-copy" } } } },
      { what: "a label changed", patch: { metadata: { labels: { "ecr-token-rotator/resync": null } } } },
      { what: "another annotation", patch: { metadata: { annotations: { "force-sync": "1700000000", note: "x" } } } },
      { what: "force-sync not a time", patch: { metadata: { annotations: { "force-sync": "now; rm -rf" } } } },
    ];
    for (const { what, patch } of attempts) {
      const attempt = await asRotator("PATCH", path, patch, MERGE);
      expect(attempt.status, what).toBe(403);
      expect(attempt.message, what).toMatch(policyDenied("ecr-token-rotator-externalsecrets"));
    }
    const stored = await admin.call<{ spec: { data: Array<{ remoteRef: { key: string } }> } }>("GET", path);
    expect(stored.body.spec.data.map((d) => d.remoteRef.key)).toEqual(["production/ecr/credentials", "production/ecr/credentials"]);
    // src/kube/decide.ts forceSyncPatch, as the re-sync sends it.
    expect((await asRotator("PATCH", path, forceSyncPatch(new Date()), MERGE)).status).toBe(200);
  });

  it("patching a ClusterExternalSecret beyond the force-sync entry of spec.externalSecretMetadata.annotations is refused by admission; the product's is admitted", async () => {
    const path = `${ESO}/clusterexternalsecrets/${PULL}`;
    const attempts = [
      { what: "remoteRef re-pointed", patch: { spec: { externalSecretSpec: { data: [{ secretKey: "token", remoteRef: { key: "production/db/root" } }] } } } },
      { what: "every namespace selected", patch: { spec: { namespaceSelectors: [{}] } } },
      { what: "another child annotation", patch: { spec: { externalSecretMetadata: { annotations: { "force-sync": "1700000000", other: "x" } } } } },
      { what: "child labels changed", patch: { spec: { externalSecretMetadata: { labels: { "ecr-token-rotator/resync": "false" } } } } },
      { what: "its own annotation", patch: { metadata: { annotations: { "force-sync": "1700000000" } } } },
    ];
    for (const { what, patch } of attempts) {
      const attempt = await asRotator("PATCH", path, patch, MERGE);
      expect(attempt.status, what).toBe(403);
      expect(attempt.message, what).toMatch(policyDenied("ecr-token-rotator-clusterexternalsecrets"));
    }
    expect((await asRotator("PATCH", path, clusterForceSyncPatch(new Date()), MERGE)).status).toBe(200);
  });

  it("the ClusterExternalSecret policy compares every field of the installed CRD's spec (a new ESO field would be unguarded)", async () => {
    const crd = await admin.call<{
      spec: {
        versions: Array<{
          name: string;
          schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { properties?: Record<string, unknown> }> } } } };
        }>;
      };
    }>("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterexternalsecrets.external-secrets.io");
    const v1 = crd.body.spec.versions.find((v) => v.name === "v1")!.schema.openAPIV3Schema.properties.spec.properties;
    const text = readFileSync(join(REPO, "infra/k8s/components/fallback/admission-policy.yaml"), "utf8");
    for (const field of Object.keys(v1).filter((f) => f !== "externalSecretMetadata"))
      expect(text, field).toContain(`object.?spec.?${field} == oldObject.?spec.?${field}`);
    expect(Object.keys(v1.externalSecretMetadata!.properties!).sort()).toEqual(["annotations", "labels"]);
  });

  it("rewriting a ServiceAccount (entries removed or reordered, another name appended, other fields) is refused by admission; appending the pull secret is admitted", async () => {
    const path = `/api/v1/namespaces/${APP}/serviceaccounts/builder`;
    const attempts = [
      { what: "entries removed", patch: { imagePullSecrets: [{ name: PULL }] } },
      { what: "entries reordered", patch: { imagePullSecrets: [{ name: "mirror" }, { name: "regcred" }, { name: PULL }] } },
      { what: "another Secret appended", patch: { imagePullSecrets: [{ name: "regcred" }, { name: "mirror" }, { name: "db-password" }] } },
      { what: "mountable secrets", patch: { imagePullSecrets: [{ name: "regcred" }, { name: "mirror" }, { name: PULL }], secrets: [{ name: "db-password" }] } },
      { what: "automount changed", patch: { imagePullSecrets: [{ name: "regcred" }, { name: "mirror" }, { name: PULL }], automountServiceAccountToken: true } },
      {
        what: "an annotation",
        patch: {
          metadata: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/admin" } },
          imagePullSecrets: [{ name: "regcred" }, { name: "mirror" }, { name: PULL }],
        },
      },
    ];
    for (const { what, patch } of attempts) {
      const attempt = await asRotator("PATCH", path, patch, MERGE);
      expect(attempt.status, what).toBe(403);
      expect(attempt.message, what).toMatch(policyDenied("ecr-token-rotator-serviceaccounts"));
    }
    // The product's patch (src/kube/decide.ts decideServiceAccount: old entries kept, the pull secret appended).
    const sa = await admin.call<{ metadata: { name: string; resourceVersion: string }; imagePullSecrets: Array<{ name: string }> }>("GET", path);
    const decision = decideServiceAccount(sa.body, PULL);
    expect(decision.action).toBe("patch");
    expect((await asRotator("PATCH", path, decision.action === "patch" ? decision.patch : {}, MERGE)).status).toBe(200);
    expect((await admin.call<{ imagePullSecrets: Array<{ name: string }> }>("GET", path)).body.imagePullSecrets.map((r) => r.name)).toEqual([
      "regcred",
      "mirror",
      PULL,
    ]);
  });

  it("Events: the rotator may write core/v1 Events as itself (RECORD_EVENTS); one naming another reporter is refused by admission; events.k8s.io is not granted", async () => {
    const coreEvent = (component: string, source?: string) => ({
      metadata: { generateName: "heal-", namespace: APP },
      involvedObject: { kind: "Pod", name: "app", namespace: APP },
      reason: "EcrPullCredentials",
      message: "pull secret refreshed",
      type: "Warning",
      reportingComponent: component,
      reportingInstance: "ecr-token-rotator",
      ...(source !== undefined ? { source: { component: source } } : {}),
    });
    const core = `/api/v1/namespaces/${APP}/events`;
    expect((await asRotator("POST", core, coreEvent("ecr-token-rotator"))).status).toBe(201);
    const spoofed = await asRotator("POST", core, coreEvent("kubelet"));
    expect(spoofed.status).toBe(403);
    expect(spoofed.message).toMatch(policyDenied("ecr-token-rotator-events"));
    expect(spoofed.message).toContain("an Event the rotator writes names ecr-token-rotator as its reporting controller");
    const legacy = await asRotator("POST", core, coreEvent("ecr-token-rotator", "kubelet"));
    expect(legacy.status).toBe(403);
    expect(legacy.message).toMatch(policyDenied("ecr-token-rotator-events"));
    const newApi = await asRotator("POST", `/apis/events.k8s.io/v1/namespaces/${APP}/events`, {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { generateName: "heal-", namespace: APP },
      eventTime: new Date().toISOString().replace(/Z$/, "000Z"),
      reportingController: "ecr-token-rotator",
      reportingInstance: "lambda",
      action: "Heal",
      reason: "Healed",
      note: "pull secret refreshed",
      type: "Normal",
      regarding: { kind: "Pod", name: "app", namespace: APP },
    });
    expect(newApi.status).toBe(403);
    expect(newApi.message).toMatch(rbacDenied("create", "events", `in the namespace "${APP}"`));
  });

  it("the optional restart Role (infra/k8s/pod-restart-rbac.yaml) evicts only in the namespace it is bound in, and never deletes a pod", async () => {
    const pod = (namespace: string) => ({
      metadata: { name: "victim", namespace },
      spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
    });
    await admin.call("POST", `/api/v1/namespaces/${APP}/pods`, pod(APP), { ok: [201, 409] });
    await admin.call("POST", "/api/v1/namespaces/eso-owned/pods", pod("eso-owned"), { ok: [201, 409] });
    await bed.kubectl(["-n", APP, "apply", "-f", "-"], { input: readFileSync(join(REPO, "infra/k8s/pod-restart-rbac.yaml"), "utf8"), check: true });
    try {
      const eviction = (namespace: string) => ({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "victim", namespace } });
      // Bound in APP only (the RoleBinding is the scope): APP's pod is evicted once the binding is
      // in force, another namespace's pod never.
      let elsewhere: Answer | undefined;
      let evicted = false;
      for (let i = 0; i < 50; i++) {
        elsewhere = await asRotator("POST", "/api/v1/namespaces/eso-owned/pods/victim/eviction", eviction("eso-owned"));
        const here = await asRotator("POST", `/api/v1/namespaces/${APP}/pods/victim/eviction`, eviction(APP));
        if (here.status !== 403) {
          expect(here.status).toBe(201);
          evicted = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(evicted).toBe(true);
      expect(elsewhere!.status).toBe(403);
      expect(elsewhere!.message).toMatch(rbacDenied("create", "pods/eviction", 'in the namespace "eso-owned"'));
      // No delete on pods anywhere: a PodDisruptionBudget cannot be bypassed.
      const deleted = await asRotator("DELETE", "/api/v1/namespaces/eso-owned/pods/victim");
      expect(deleted.status).toBe(403);
      expect(deleted.message).toMatch(rbacDenied("delete", "pods", 'in the namespace "eso-owned"'));
    } finally {
      await bed.kubectl(["-n", APP, "delete", "-f", "-", "--ignore-not-found"], { input: readFileSync(join(REPO, "infra/k8s/pod-restart-rbac.yaml"), "utf8") });
    }
  });

  it("update (PUT) and delete are refused by RBAC, even for the pull secret", async () => {
    const current = await admin.call<Record<string, unknown>>("GET", `/api/v1/namespaces/${APP}/secrets/${PULL}`);
    const put = await asRotator("PUT", `/api/v1/namespaces/${APP}/secrets/${PULL}`, current.body);
    expect(put.status).toBe(403);
    expect(put.message).toMatch(rbacDenied("update", "secrets", `in the namespace "${APP}"`));
    const del = await asRotator("DELETE", `/api/v1/namespaces/${APP}/secrets/${PULL}`);
    expect(del.status).toBe(403);
    expect(del.message).toMatch(rbacDenied("delete", "secrets", `in the namespace "${APP}"`));
  });
});
