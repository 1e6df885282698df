// ValidatingAdmissionPolicies applied at start (infra/k8s/components/fallback/admission-policy.yaml): the API server
// loads a new policy and its binding asynchronously, so startBed waits until each one refuses a
// write it must refuse. The probe is a server-side dry run (nothing is stored) as an identity in
// the product's group and in system:masters: RBAC lets it through, the policy's matchConditions
// (the group) make the policy apply, so the refusal can only come from the policy.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";

export interface ProbeResult {
  stdout: string;
  stderr: string;
  code: number;
}
type Kubectl = (args: string[], opts?: { input?: string }) => Promise<ProbeResult>;

/** The group the product's policies apply to (rbac.yaml binds it; the bed maps the rotator's EKS identity to it). */
export const PRODUCT_GROUP = "ecr-token-rotator";

/** Per resource a policy matches, a create it must refuse (valid otherwise, so only admission refuses it). */
function probes(root: string): Record<string, string> {
  return {
    secrets: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "admission-probe", namespace: "default" }, type: "Opaque" }),
    serviceaccounts: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "admission-probe", namespace: "default" } }),
    externalsecrets: readFileSync(join(root, "infra/k8s/external-secret.yaml"), "utf8"),
    clusterexternalsecrets: readFileSync(join(root, "infra/k8s/base/cluster-external-secret.yaml"), "utf8"),
    events: JSON.stringify({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "admission-probe", namespace: "default" },
      involvedObject: { kind: "Pod", name: "p", namespace: "default" },
      reason: "Probe",
      message: "probe",
    }),
  };
}

/** The policies (name → the resource it matches) a manifest defines. */
export function policiesIn(file: string): Array<{ name: string; resource: string }> {
  const docs = loadAll(readFileSync(file, "utf8")) as Array<{
    kind?: string;
    metadata?: { name?: string };
    spec?: { matchConstraints?: { resourceRules?: Array<{ resources?: string[] }> } };
  }>;
  return docs
    .filter((d) => d?.kind === "ValidatingAdmissionPolicy")
    .map((d) => ({ name: d.metadata!.name!, resource: d.spec!.matchConstraints!.resourceRules![0]!.resources![0]! }));
}

/** Waits until every policy refuses its probe (those on ESO's resources only when the CRDs are installed). */
export async function waitForPolicies(kubectl: Kubectl, root: string, policies: Array<{ name: string; resource: string }>, esoCrds: boolean): Promise<void> {
  const bodies = probes(root);
  const pending = policies.filter((p) => bodies[p.resource] !== undefined && (esoCrds || !p.resource.includes("externalsecrets")));
  const deadline = Date.now() + 30_000;
  while (pending.length > 0) {
    const p = pending[0]!;
    const out = await kubectl(
      ["create", "--dry-run=server", "-n", "default", `--as=admission-probe`, "--as-group=system:masters", `--as-group=${PRODUCT_GROUP}`, "-f", "-"],
      { input: bodies[p.resource] },
    );
    if (out.code !== 0 && out.stderr.includes(`ValidatingAdmissionPolicy '${p.name}'`)) {
      pending.shift();
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the admission policy ${p.name} is not enforced after 30 s (last probe: ${out.code} ${out.stderr.trim()})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
