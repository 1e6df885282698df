/**
 * The doctor action: is this deployment wired right, end to end? A read-only checklist — AWS
 * identity, one GetAuthorizationToken per region, the token at each registry (/v2/ and, with
 * PROBE_IMAGE, a manifest HEAD), each secret the product writes, and (src/doctor/cluster-checks.ts,
 * loaded only when clusters are configured) each cluster. No Secrets Manager write, no
 * Kubernetes write, no ECR call beyond GetAuthorizationToken; every call ends by the deadline.
 *
 * The checklist is AWS_CHECKS below, in the order its lines are reported; each check is one entry
 * (its lines' names, what it needs, how it runs: aws-context.ts). A check starts as soon as the
 * checks providing its needs have finished (so those without a common need run side by side), and
 * a check whose need is not met is skipped with that need's reason — one cause, one fix.
 */
import type { Config } from "../config/config";
import { RegionTokens } from "../rotation/ecr";
import type { DoctorStep } from "../run/run";
import { isDeadlineExceeded, NO_DEADLINE, type Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { awsIdentityCheck, ecrTokenCheck, sdkIdentity, type IdentityFn } from "./aws-checks";
import { unmetAws, type AwsCheck, type AwsNeed, type AwsRun } from "./aws-context";
import { deadlineCheck, fail, skip } from "./check";
import { registryDefaultCheck, registryProbeCheck } from "./registry-checks";
import { httpsRegistryRequest, type RegistryRequestFn } from "./registry-http";
import { secretsCheck } from "./secret-checks";
import type { ClusterChecks, DoctorCheck } from "./types";

/** The per-cluster half (Kubernetes client, EKS), loaded only when clusters are configured. */
export const loadClusterChecks = (): Promise<ClusterChecks> => import("./cluster-checks").then((m) => m.clusterChecks);

export interface DoctorOptions {
  /** sts:GetCallerIdentity; default: the SDK, in the secrets' region. */
  identity?: IdentityFn;
  /** Requests to registries; default: node:https. */
  registryRequest?: RegistryRequestFn;
  /** Loads the per-cluster half; default: {@link loadClusterChecks}. */
  clusterChecks?: () => Promise<ClusterChecks>;
}

const NO_CLUSTER = "no cluster configured (EKS_CLUSTERS): nothing to check in Kubernetes";

/** `clusters`, when none is configured: nothing to check in Kubernetes. */
const noClusterCheck: AwsCheck = {
  names: (run) => (run.config.kubernetes.clusters.length === 0 ? ["clusters"] : []),
  needs: [],
  run: (run) => Promise.resolve(run.config.kubernetes.clusters.length === 0 ? [skip("clusters", NO_CLUSTER)] : []),
};

/** Each configured cluster's lines (cluster-checks.ts); one `clusters` line when that half could not run. */
const clustersCheck: AwsCheck = {
  names: (run) => (run.config.kubernetes.clusters.length > 0 ? ["clusters"] : []),
  needs: ["identity"],
  run: async (run) => (run.config.kubernetes.clusters.length > 0 ? clusterLines(run) : []),
};

/**
 * The checks, in the order their lines are reported. Adding a check: an {@link AwsCheck} (its
 * lines' names, what it needs, what it provides, how it runs), and its entry here.
 */
export const AWS_CHECKS: readonly AwsCheck[] = [
  awsIdentityCheck,
  ecrTokenCheck,
  registryDefaultCheck,
  registryProbeCheck,
  secretsCheck,
  noClusterCheck,
  clustersCheck,
];

export function createDoctorStep(config: Config, options: DoctorOptions = {}): DoctorStep {
  const rotation = config.rotation;
  return async ({ request, ecr, secrets, tokenNow, deadline }) => {
    const run: AwsRun = {
      config,
      request,
      secrets,
      tokenNow,
      deadline,
      identity: options.identity ?? sdkIdentity(rotation.defaultRegion ?? "us-east-1"),
      http: options.registryRequest ?? httpsRegistryRequest(),
      loadClusters: options.clusterChecks ?? loadClusterChecks,
      tokens: new RegionTokens(ecr, tokenNow, rotation.minTokenValiditySeconds),
    };
    const checks = await runAwsChecks(run, AWS_CHECKS);
    return { checks, ecrCalls: run.tokens.calls };
  };
}

/** Runs `checks`, each once the checks providing its needs have finished; their lines in list order. */
export async function runAwsChecks(run: AwsRun, checks: readonly AwsCheck[]): Promise<DoctorCheck[]> {
  const provided = new Map<AwsNeed, Promise<unknown>>();
  const lines = checks.map((check) => {
    const ready = check.needs.map((need) => {
      const by = provided.get(need);
      if (by === undefined) throw new Error(`a doctor check needs "${need}", which no check before it provides`);
      return by;
    });
    const done = Promise.all(ready).then(() => runOne(run, check));
    if (check.provides !== undefined) provided.set(check.provides, done);
    return done;
  });
  return (await Promise.all(lines)).flat();
}

/** One check's lines: skipped with the reason of its first need not met, else run. */
async function runOne(run: AwsRun, check: AwsCheck): Promise<DoctorCheck[]> {
  for (const need of check.needs) {
    const why = unmetAws(run, need);
    if (why !== undefined) return check.names(run).map((name) => skip(name, why));
  }
  return check.run(run);
}

/** The cluster half's lines; one failed `clusters` line when it could not run. */
async function clusterLines(run: AwsRun): Promise<DoctorCheck[]> {
  const deadline: Deadline | undefined = run.deadline;
  if (deadline?.expired()) return [deadlineCheck("clusters")];
  try {
    const checks = await run.loadClusters();
    return await checks({ config: run.config, clusters: run.request.clusters, tokenNow: run.tokenNow, deadline: deadline ?? NO_DEADLINE });
  } catch (error) {
    if (isDeadlineExceeded(error)) return [deadlineCheck("clusters")];
    return [fail("clusters", `the cluster checks could not run: ${describeError(error)}`, "the message says what failed; the lines above are unaffected")];
  }
}
