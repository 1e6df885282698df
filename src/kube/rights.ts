/**
 * The one list of Kubernetes rights the product needs: every (API group, resource, verb) a
 * KubeApi request of either client makes. infra/k8s/rbac.yaml grants exactly these (and
 * test/deploy/manifests.test.ts checks the file and the clients' requests against this list);
 * the doctor asks the API server about each (a SelfSubjectAccessReview per line).
 * Written resource-first on purpose: that test finds the clients' requests by `verb, resource`.
 */
import type { KubeResource, KubeVerb } from "./types";

export interface KubeRight {
  /** API group: "" for the core group. */
  group: "" | "external-secrets.io";
  resource: KubeResource;
  verb: KubeVerb;
  /** Namespaced resources can also be granted per namespace (a RoleBinding); cluster-scoped ones cannot. */
  namespaced: boolean;
}

/** `verbs` space-separated: a quoted list of verbs would read as requests to the RBAC test's scan. */
const grants = ({ group, resource, namespaced }: Omit<KubeRight, "verb">, verbs: string): KubeRight[] =>
  verbs.split(" ").map((verb) => ({ group, resource, verb: verb as KubeVerb, namespaced }));
/** Rights on a namespaced resource (grantable per namespace too). */
const right = (group: KubeRight["group"], resource: KubeResource, verbs: string) => grants({ group, resource, namespaced: true }, verbs);
/** Rights on a cluster-scoped resource. */
const clusterRight = (group: KubeRight["group"], resource: KubeResource, verbs: string) => grants({ group, resource, namespaced: false }, verbs);

export const PRODUCT_RIGHTS: readonly KubeRight[] = [
  // Target namespaces: one paged LIST (TARGET_NAMESPACES=*, NAMESPACE_SELECTOR).
  ...clusterRight("", "namespaces", "list"),
  // The pull secret: read it, create it, merge-patch it in place (never update, never delete).
  ...right("", "secrets", "get list create patch"),
  // PATCH_SERVICE_ACCOUNTS.
  ...right("", "serviceaccounts", "get list patch"),
  // ESO re-sync: find the ExternalSecrets, annotate them with force-sync.
  ...right("external-secrets.io", "externalsecrets", "list patch"),
  // ...through the parent for a ClusterExternalSecret's children.
  ...clusterRight("external-secrets.io", "clusterexternalsecrets", "patch"),
  // The diagnosis: stuck pods and the kubelet's events.
  ...right("", "pods", "list"),
  ...right("", "events", "list"),
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
