/**
 * What the product's least privilege rests on beyond RBAC, and which optional roles are bound:
 *   cluster admission-policy <c>            the ValidatingAdmissionPolicies of
 *                                           infra/k8s/components/fallback/admission-policy.yaml and their bindings
 *                                           (Deny), each read by name — rbac.yaml grants `get`
 *                                           on exactly those names
 *   cluster optional-role <c> <id>          per optional role (src/kube/rights.ts OPTIONAL_ROLES):
 *                                           bound or not, by a SelfSubjectAccessReview of a request
 *                                           only that role grants; not bound is not a failure
 * Reads only.
 */
import { pool } from "../kube/paging";
import type { AdmissionObject, AdmissionResource } from "../kube/reviews";
import { ADMISSION_POLICIES, ADMISSION_POLICY_MANIFEST, OPTIONAL_ROLES, type OptionalRole } from "../kube/rights";
import { isDeadlineExceeded } from "../shared/deadline";
import { checkName, fail, listSome, pass, readFailure, readFix, skip, type ClusterCheck, type ClusterCheckContext } from "./cluster-context";
import type { DoctorCheck } from "./types";

/** Reads in flight per cluster. */
const READ_CONCURRENCY = 4;
const APPLY_POLICY = `kubectl apply -f ${ADMISSION_POLICY_MANIFEST} (Kubernetes >= 1.30: admissionregistration.k8s.io/v1)`;

/** `cluster admission-policy <c>`: each policy of admission-policy.yaml and its binding, installed and denying. */
export const admissionPolicyCheck: ClusterCheck = {
  names: (label) => [checkName.admissionPolicy(label)],
  needs: "session",
  run: async (run) => [await admissionPolicy(run.session!)],
};

/** `cluster optional-role <c> <id>` per optional role: bound (pass) or not (skip, saying what is missing without it). */
export const optionalRolesCheck: ClusterCheck = {
  names: (label) => OPTIONAL_ROLES.map((role) => checkName.optionalRole(label, role.id)),
  needs: "session",
  run: (run) => Promise.all(OPTIONAL_ROLES.map((role) => optionalRole(run.session!, role))),
};

type Read = { resource: AdmissionResource; name: string; found?: AdmissionObject };

async function admissionPolicy(ctx: ClusterCheckContext): Promise<DoctorCheck> {
  const name = checkName.admissionPolicy(ctx.label);
  const reads: Read[] = ADMISSION_POLICIES.flatMap((policy) => [
    { resource: "validatingadmissionpolicies" as const, name: policy },
    { resource: "validatingadmissionpolicybindings" as const, name: policy },
  ]);
  /** The first read that failed (in list order), and how. */
  let failed: { read: Read; error: unknown } | undefined;
  await pool(reads, READ_CONCURRENCY, async (read) => {
    try {
      const found = await ctx.retried(() => ctx.probe.admission(read.resource, read.name));
      if (found) read.found = found;
    } catch (error) {
      if (isDeadlineExceeded(error)) throw error;
      if (failed === undefined || reads.indexOf(read) < reads.indexOf(failed.read)) failed = { read, error };
    }
  });
  if (failed !== undefined) {
    const { read, error } = failed;
    return fail(name, readFailure(error, `get ${read.resource} ${read.name}`), readFix(error, `get on ${read.resource}`));
  }
  const missing = reads.filter((r) => r.found === undefined).map((r) => `${r.resource === "validatingadmissionpolicies" ? "policy" : "binding"} ${r.name}`);
  const notDenying = reads
    .filter((r) => r.resource === "validatingadmissionpolicybindings" && r.found !== undefined)
    .filter((r) => r.found!.policyName !== r.name || !(r.found!.validationActions ?? []).includes("Deny"))
    .map((r) => `binding ${r.name} (policy ${r.found!.policyName ?? "none"}, validationActions ${(r.found!.validationActions ?? []).join(",") || "none"})`);
  if (missing.length === 0 && notDenying.length === 0) {
    return pass(name, `${ADMISSION_POLICIES.length} ValidatingAdmissionPolicies and their bindings (Deny) installed: ${ADMISSION_POLICIES.join(", ")}`);
  }
  const problems = [
    ...(missing.length > 0 ? [`not installed: ${listSome(missing)}`] : []),
    ...(notDenying.length > 0 ? [`not binding its policy with Deny: ${listSome(notDenying)}`] : []),
  ];
  const served = missing.length > 0 ? await servesPolicies(ctx) : true;
  if (!served) {
    return fail(
      name,
      `the API server does not serve admissionregistration.k8s.io/v1 validatingadmissionpolicies (Kubernetes < 1.30): RBAC alone cannot narrow what the product's identity creates and patches`,
      `upgrade the cluster to Kubernetes >= 1.30, then ${APPLY_POLICY}`,
    );
  }
  return fail(
    name,
    `${problems.join("; ")}: RBAC alone lets the product's identity create any Secret and patch any ServiceAccount or ExternalSecret`,
    APPLY_POLICY,
  );
}

/** Whether the server serves ValidatingAdmissionPolicy v1 (asked only when something is missing). */
async function servesPolicies(ctx: ClusterCheckContext): Promise<boolean> {
  try {
    const served = await ctx.retried(() => ctx.probe.served("admissionregistration.k8s.io/v1"));
    return served?.includes("validatingadmissionpolicies") ?? false;
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return true; // unknown: the missing objects are the finding
  }
}

/** A Secret name that is not the pull secret: what only the optional role lets the product read. */
function otherSecretName(pullSecretName: string): string {
  const name = "ecr-token-rotator-doctor-probe";
  return name === pullSecretName ? `${name}-other` : name;
}

async function optionalRole(ctx: ClusterCheckContext, role: OptionalRole): Promise<DoctorCheck> {
  const name = checkName.optionalRole(ctx.label, role.id);
  const asked = { ...role.asks, name: otherSecretName(ctx.config.kubernetes.pullSecretName) };
  try {
    const decision = await ctx.retried(() => ctx.probe.can(asked));
    if (decision.allowed) return pass(name, `bound (${role.role}): ${role.grants}`);
    return skip(name, `not bound: ${role.without}; optional, off by default: kubectl apply -f ${role.manifest} binds ${role.role}`);
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return fail(
      name,
      `could not ask the API server (SelfSubjectAccessReview): ${readFailure(error, "create selfsubjectaccessreviews")}`,
      "run the doctor again; every authenticated identity may create SelfSubjectAccessReviews (system:basic-user)",
    );
  }
}
