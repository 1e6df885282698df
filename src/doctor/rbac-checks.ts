/**
 * `cluster rbac <cluster> <verb> <resource>`: one SelfSubjectAccessReview per right the product
 * needs (src/kube/rights.ts, the list infra/k8s/components/fallback/rbac.yaml is tested against). Asked cluster-wide
 * first; a namespaced right refused cluster-wide is asked again in each target namespace when
 * TARGET_NAMESPACES is an explicit list (the documented namespace-confined set-up: the ClusterRole
 * bound by a RoleBinding per namespace).
 */
import { pool } from "../kube/paging";
import type { AccessDecision } from "../kube/reviews";
import { PRODUCT_RIGHTS, type KubeRight } from "../kube/rights";
import { isDeadlineExceeded } from "../shared/deadline";
import { APPLY_RBAC, checkName, fail, listSome, pass, PRODUCT_GROUP, readFailure, type ClusterCheck, type ClusterCheckContext } from "./cluster-context";
import type { DoctorCheck } from "./types";

/** Reviews in flight per cluster. */
const REVIEW_CONCURRENCY = 4;
/** Namespaces of an explicit list asked about per right (a confined set-up names a few). */
const MAX_NAMESPACES_ASKED = 50;

/** `cluster rbac <c> <verb> <resource>`: one line per right the product needs, in PRODUCT_RIGHTS' order. */
export const rbacCheck: ClusterCheck = {
  names: (label) => PRODUCT_RIGHTS.map((r) => checkName.rbac(label, r.verb, r.resource)),
  needs: "session",
  run: (run) => rbacChecks(run.session!),
};

async function rbacChecks(ctx: ClusterCheckContext): Promise<DoctorCheck[]> {
  const out = new Array<DoctorCheck>(PRODUCT_RIGHTS.length);
  const indexed = PRODUCT_RIGHTS.map((right, index) => ({ right, index }));
  let deadlineHit: Error | undefined;
  await pool(indexed, REVIEW_CONCURRENCY, async ({ right, index }) => {
    try {
      out[index] = await checkRight(ctx, right);
    } catch (error) {
      if (!isDeadlineExceeded(error)) throw error;
      deadlineHit = error;
    }
  });
  // A line the deadline cut is not a verdict: the caller skips it (and the rest).
  if (deadlineHit !== undefined) throw deadlineHit;
  return out;
}

async function checkRight(ctx: ClusterCheckContext, right: KubeRight): Promise<DoctorCheck> {
  const name = checkName.rbac(ctx.label, right.verb, right.resource);
  const ask = (namespace?: string): Promise<AccessDecision> =>
    ctx.retried(() =>
      ctx.probe.can({
        group: right.group,
        resource: right.resource,
        verb: right.verb,
        ...(namespace ? { namespace } : {}),
        // Granted by name (rbac.yaml resourceNames): asked about the configured pull secret, or the first name.
        ...(right.pullSecretOnly ? { name: ctx.config.kubernetes.pullSecretName } : right.onlyNamed?.[0] ? { name: right.onlyNamed[0] } : {}),
      }),
    );
  let wide: AccessDecision;
  try {
    wide = await ask();
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return fail(
      name,
      `could not ask the API server (SelfSubjectAccessReview): ${readFailure(error, "create selfsubjectaccessreviews")}`,
      "run the doctor again; every authenticated identity may create SelfSubjectAccessReviews (system:basic-user), so a refusal here means the cluster's default RBAC was changed",
    );
  }
  if (wide.allowed) return pass(name, `granted cluster-wide${wide.reason ? ` (${wide.reason})` : ""}`);

  const targets = ctx.config.kubernetes.namespaces;
  if (right.namespaced && targets.mode === "list" && targets.names.length > 0) {
    const asked = targets.names.slice(0, MAX_NAMESPACES_ASKED); // unique: the configuration dedupes them
    const denied: string[] = [];
    await pool(asked, REVIEW_CONCURRENCY, async (namespace) => {
      const decision = await ask(namespace).catch((error: unknown) => {
        if (isDeadlineExceeded(error)) throw error;
        return { allowed: false } satisfies AccessDecision;
      });
      if (!decision.allowed) denied.push(namespace);
    });
    const more = targets.names.length > asked.length ? ` (the first ${asked.length} of ${targets.names.length} asked)` : "";
    if (denied.length === 0) return pass(name, `granted in the ${asked.length} target namespace${asked.length > 1 ? "s" : ""}${more}, not cluster-wide`);
    denied.sort();
    return fail(
      name,
      `${who(ctx)} may not ${right.verb} ${right.resource} cluster-wide nor in the target namespace${denied.length > 1 ? "s" : ""} ${listSome(denied)}${more}${because(wide)}`,
      rbacFix(ctx, right, denied),
    );
  }
  return fail(name, `${who(ctx)} may not ${right.verb} ${right.resource}${right.namespaced ? " cluster-wide" : ""}${because(wide)}`, rbacFix(ctx, right));
}

const who = (ctx: ClusterCheckContext): string => (ctx.subject?.username ? `"${ctx.subject.username}"` : "the product's identity");

const because = (d: AccessDecision): string => (d.evaluationError ? ` (${d.evaluationError})` : d.reason ? ` (${d.reason})` : "");

/** The rbac.yaml rule that grants the right, and how to apply it (and to map the identity to the group first). */
function rbacFix(ctx: ClusterCheckContext, right: KubeRight, namespaces?: string[]): string {
  const names = right.pullSecretOnly ? [ctx.config.kubernetes.pullSecretName] : (right.onlyNamed ?? []);
  const named = names.length > 0 ? ` with resourceNames: [${names.map((n) => `"${n}"`).join(", ")}]` : "";
  const rule = `add "${right.verb}" to the verbs of the rule for ${right.resource} (apiGroups: ["${right.group}"])${named} in the ClusterRole ecr-token-rotator (infra/k8s/components/fallback/rbac.yaml), then ${APPLY_RBAC}`;
  const bound = namespaces
    ? `; with namespace-confined RBAC, bind it in ${listSome(namespaces)} too: kubectl -n ${namespaces[0]} create rolebinding ecr-token-rotator --clusterrole=ecr-token-rotator --group=${PRODUCT_GROUP}`
    : "";
  const groups = ctx.subject?.groups;
  if (groups !== undefined && !groups.includes(PRODUCT_GROUP)) {
    return (
      `map the identity to the group ${PRODUCT_GROUP} the ClusterRoleBinding names (its groups are ${groups.length > 0 ? groups.join(", ") : "none"}): ` +
      `aws eks update-access-entry --cluster-name ${ctx.cluster.name} --region ${ctx.cluster.region} --principal-arn <role ARN> --kubernetes-groups ${PRODUCT_GROUP}` +
      `; and if the right is still missing: ${rule}${bound}`
    );
  }
  return rule + bound;
}
