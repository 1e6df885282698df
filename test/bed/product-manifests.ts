// The product's Kubernetes manifests (infra/k8s) on the bed, as a cluster admin applies — or
// breaks — them: the ClusterRole's rules (and waiting until the authorizer sees a change), and
// the repository's ExternalSecret with the Ready condition ESO would report (no ESO controller
// needed: the condition is written through the status subresource).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, loadAll } from "js-yaml";
import { ROOT } from "./index";
import type { AdminClient } from "./kubelet";

/**
 * The product's Kubernetes access as shipped and documented: the RBAC and the admission policy
 * for what RBAC cannot narrow (`kubectl apply -f` of both). Not the optional diagnosis role.
 */
export const PRODUCT_MANIFESTS: readonly string[] = ["infra/k8s/components/fallback/rbac.yaml", "infra/k8s/components/fallback/admission-policy.yaml"];
/**
 * PRODUCT_MANIFESTS for other pull secret names (PULL_SECRET_NAME of each deployment writing to
 * the cluster), changed as their comments say: rbac.yaml's resourceNames and the policy's list.
 * Returns the paths of the changed copies (in a temporary directory).
 */
export function productManifestsFor(pullSecretNames: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "product-manifests-"));
  const replace = (file: string, from: string, to: string) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    if (!text.includes(from)) throw new Error(`${file} no longer holds ${from}`);
    const out = join(dir, file.split("/").at(-1)!);
    writeFileSync(out, text.split(from).join(to));
    return out;
  };
  return [
    replace("infra/k8s/components/fallback/rbac.yaml", 'resourceNames: ["ecr-pull-secret"]', `resourceNames: ${JSON.stringify(pullSecretNames)}`),
    replace(
      "infra/k8s/components/fallback/admission-policy.yaml",
      `expression: "['ecr-pull-secret']"`,
      `expression: "[${pullSecretNames.map((n) => `'${n}'`).join(", ")}]"`,
    ),
  ];
}
/** The optional ClusterRole (and its binding) that lets the diagnosis read any referenced pull Secret. */
export const DIAGNOSIS_SECRETS_RBAC = "infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml";

export interface RbacRule {
  resourceNames?: string[];
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The rules of the ClusterRole ecr-token-rotator, as infra/k8s/components/fallback/rbac.yaml has them (a fresh copy to change). */
export function productRules(): RbacRule[] {
  const docs = loadAll(readFileSync(join(ROOT, "infra/k8s/components/fallback/rbac.yaml"), "utf8")) as Array<{ kind: string; rules?: RbacRule[] }>;
  return structuredClone(docs.find((d) => d.kind === "ClusterRole")!.rules!);
}

/** Replaces the rules of the ClusterRole ecr-token-rotator (applied with infra/k8s/components/fallback/rbac.yaml). */
export async function setProductRules(admin: AdminClient, rules: RbacRule[]): Promise<void> {
  await admin.call("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/ecr-token-rotator", { rules }, { contentType: "application/merge-patch+json" });
}

/**
 * Waits until the authorizer's view of the product group's core right is `allowed` (RBAC is read
 * through a cache); `name`: the right on that object (a rule with resourceNames).
 */
export async function waitForRight(admin: AdminClient, verb: string, resource: string, allowed: boolean, name?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const review = await admin.call<{ status: { allowed: boolean } }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: "ecr-token-rotator",
        groups: ["ecr-token-rotator", "system:authenticated"],
        resourceAttributes: { verb, resource, group: "", ...(name ? { name } : {}) },
      },
    });
    if (review.body.status.allowed === allowed) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`RBAC never became ${allowed ? "allowing" : "denying"} ${verb} ${resource}${name ? `/${name}` : ""}`);
}

/** A Ready condition as ESO writes it. */
export interface ReadyCondition {
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * The repository's ExternalSecret (infra/k8s/external-secret.yaml, reading
 * production/ecr/credentials) as `namespace/name`, created if missing, its Ready condition set
 * to `ready`.
 */
export async function putExternalSecret(admin: AdminClient, namespace: string, name: string, ready: ReadyCondition): Promise<void> {
  const doc = load(readFileSync(join(ROOT, "infra/k8s/external-secret.yaml"), "utf8")) as { metadata: Record<string, unknown> };
  doc.metadata = { ...doc.metadata, name, namespace };
  const base = `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets`;
  await admin.call("POST", base, doc, { ok: [201, 409] });
  const condition = { type: "Ready", ...ready, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") };
  await admin.call("PATCH", `${base}/${name}/status`, { status: { conditions: [condition] } }, { contentType: "application/merge-patch+json" });
}
