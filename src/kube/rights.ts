/**
 * The one list of Kubernetes rights the product needs: every (API group, resource, verb) a
 * KubeApi request of either client makes. infra/k8s/components/fallback/rbac.yaml grants exactly these (and
 * test/deploy/manifests.test.ts checks the file and the clients' requests against this list);
 * the doctor asks the API server about each (a SelfSubjectAccessReview per line).
 * Written resource-first on purpose: that test finds the clients' requests by `verb, resource`.
 */
import type { KubeResource, KubeVerb } from "./types";

export interface KubeRight {
  /** API group: "" for the core group. */
  group: "" | "external-secrets.io" | "admissionregistration.k8s.io";
  resource: KubeResource;
  verb: KubeVerb;
  /** Namespaced resources can also be granted per namespace (a RoleBinding); cluster-scoped ones cannot. */
  namespaced: boolean;
  /**
   * Granted for the pull secret's name only (`resourceNames` in rbac.yaml; a LIST carries the
   * `metadata.name` field selector RBAC authorizes against it): the doctor asks about that name.
   */
  pullSecretOnly?: true;
  /**
   * Granted for these names only (`resourceNames` in rbac.yaml): the doctor asks about the first.
   * Only the doctor's own reads (kube/reviews.ts, not a KubeApi request) are narrowed this way.
   */
  onlyNamed?: readonly string[];
}

/**
 * The ValidatingAdmissionPolicies of infra/k8s/components/fallback/admission-policy.yaml, each bound by a
 * ValidatingAdmissionPolicyBinding of the same name. The doctor reads them by name (`cluster
 * admission-policy`): rbac.yaml grants `get` on exactly these names, nothing else about them.
 */
export const ADMISSION_POLICIES = [
  "ecr-token-rotator-secrets",
  "ecr-token-rotator-serviceaccounts",
  "ecr-token-rotator-externalsecrets",
  "ecr-token-rotator-clusterexternalsecrets",
  "ecr-token-rotator-events",
] as const;
export const ADMISSION_POLICY_MANIFEST = "infra/k8s/components/fallback/admission-policy.yaml";

/** `verbs` space-separated: a quoted list of verbs would read as requests to the RBAC test's scan. */
const grants = ({ group, resource, namespaced }: Omit<KubeRight, "verb">, verbs: string): KubeRight[] =>
  verbs.split(" ").map((verb) => ({ group, resource, verb: verb as KubeVerb, namespaced }));
/** Rights on a namespaced resource (grantable per namespace too). */
const right = (group: KubeRight["group"], resource: KubeResource, verbs: string) => grants({ group, resource, namespaced: true }, verbs);
/** Rights on a cluster-scoped resource. */
const clusterRight = (group: KubeRight["group"], resource: KubeResource, verbs: string) => grants({ group, resource, namespaced: false }, verbs);
const byName = (rights: KubeRight[]): KubeRight[] => rights.map((r) => ({ ...r, pullSecretOnly: true }));
const admissionNamed = (r: KubeRight): KubeRight => ({ ...r, onlyNamed: ADMISSION_POLICIES });

export const PRODUCT_RIGHTS: readonly KubeRight[] = [
  // Target namespaces: one paged LIST (TARGET_NAMESPACES=*, NAMESPACE_SELECTOR).
  ...clusterRight("", "namespaces", "list"),
  // The pull secret, by name: read it, list it by name, merge-patch it in place (never update,
  // never delete)...
  ...byName(right("", "secrets", "get list patch")),
  // ...and create it (RBAC cannot narrow create by name: infra/k8s/components/fallback/admission-policy.yaml does).
  ...right("", "secrets", "create"),
  // PATCH_SERVICE_ACCOUNTS.
  ...right("", "serviceaccounts", "get list patch"),
  // ESO re-sync: find the ExternalSecrets, annotate them with force-sync.
  ...right("external-secrets.io", "externalsecrets", "list patch"),
  // ...through the parent for a ClusterExternalSecret's children.
  ...clusterRight("external-secrets.io", "clusterexternalsecrets", "patch"),
  // The diagnosis: stuck pods and the kubelet's events.
  ...right("", "pods", "list"),
  ...right("", "events", "list"),
  // The doctor: are the admission policies and their bindings installed? Read by name only.
  ...clusterRight("admissionregistration.k8s.io", "validatingadmissionpolicies", "get").map(admissionNamed),
  ...clusterRight("admissionregistration.k8s.io", "validatingadmissionpolicybindings", "get").map(admissionNamed),
  // The Events heal and diagnose record (RECORD_EVENTS): create a new one, raise a repeat's count.
  ...right("", "events", "create patch"),
];

/**
 * The optional restart of stuck pods (RESTART_STUCK_PODS): the eviction subresource, granted by
 * infra/k8s/pod-restart-rbac.yaml in each configured namespace (a Role and a RoleBinding per
 * namespace: the binding's namespace is the scope), not by rbac.yaml.
 */
export const RESTART_RIGHTS: readonly KubeRight[] = [{ group: "", resource: "pods/eviction", verb: "create", namespaced: true }];

/** `core/secrets: get`, `external-secrets.io/externalsecrets: list` (how the RBAC test names a grant). */
export const rightKey = (r: Pick<KubeRight, "group" | "resource" | "verb">): string => `${r.group || "core"}/${r.resource}: ${r.verb}`;

/**
 * The optional ClusterRole (infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml, not bound by default) that
 * lets the diagnosis read the other pull Secrets stuck pods reference (get and list on Secrets,
 * any name). Without it the diagnosis says what it could not check.
 */
export const DIAGNOSIS_SECRETS_ROLE = "ecr-token-rotator-diagnosis-secrets";
export const DIAGNOSIS_SECRETS_MANIFEST = "infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml";

/**
 * An optional role (off by default): what it lets the product do, and one request only it grants
 * — the doctor asks about that request (a SelfSubjectAccessReview) to say whether it is bound.
 */
export interface OptionalRole {
  /** Its doctor line: `cluster optional-role <c> <id>`. */
  id: string;
  role: string;
  manifest: string;
  /** A request only this role grants (`name`: one the product's own rights do not cover). */
  asks: { group: ""; resource: KubeResource; verb: KubeVerb };
  /** What it lets the product do, and what is missing without it. */
  grants: string;
  without: string;
}

export const OPTIONAL_ROLES: readonly OptionalRole[] = [
  {
    id: "diagnosis-secrets",
    role: DIAGNOSIS_SECRETS_ROLE,
    manifest: DIAGNOSIS_SECRETS_MANIFEST,
    asks: { group: "", resource: "secrets", verb: "get" },
    grants: "the diagnosis reads the other pull Secrets stuck pods reference (get and list on Secrets, any name)",
    without: "the diagnosis cannot read other pull Secrets (it says what it could not check)",
  },
];
