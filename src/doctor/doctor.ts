/**
 * The doctor action: is this deployment wired right, end to end? A read-only checklist — AWS
 * identity, one GetAuthorizationToken per region, the token at each registry (/v2/ and, with
 * PROBE_IMAGE, a manifest HEAD), each secret the product writes, and (src/doctor/cluster-checks.ts,
 * loaded only when clusters are configured) each cluster. No Secrets Manager write, no
 * Kubernetes write, no ECR call beyond GetAuthorizationToken; every call ends by the deadline.
 */
import { renderSecretName, type Config } from "../config/config";
import { RegionTokens, type RegionToken } from "../rotation/ecr";
import type { RegistryHost } from "../formats/registry-host";
import type { DoctorStep } from "../run/run";
import { isDeadlineExceeded, NO_DEADLINE, type Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { identityCheck, sdkIdentity, tokenCheck, type IdentityFn } from "./aws-checks";
import { deadlineCheck, fail, skip } from "./check";
import { registryChecks } from "./registry-checks";
import { httpsRegistryRequest, type RegistryRequestFn } from "./registry-http";
import { secretChecks, type SecretTarget } from "./secret-checks";
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

const unique = <T>(items: T[]): T[] => [...new Set(items)];

export function createDoctorStep(config: Config, options: DoctorOptions = {}): DoctorStep {
  const rotation = config.rotation;
  return async ({ request, ecr, secrets, tokenNow, deadline }) => {
    const tokens = new RegionTokens(ecr, tokenNow, rotation.minTokenValiditySeconds);
    const identity = options.identity ?? sdkIdentity(rotation.defaultRegion ?? "us-east-1");
    const http = options.registryRequest ?? httpsRegistryRequest();

    // 1. Who we are, and one token per region (ECR Public: its own).
    const regions = unique(
      rotation.registries.length > 0
        ? rotation.registries.filter((r) => !r.public).map((r) => r.region)
        : rotation.defaultRegion
          ? [rotation.defaultRegion]
          : [],
    );
    const wantsPublic = rotation.registries.some((r) => r.public);
    const [who, regionTokens, publicToken] = await Promise.all([
      identityCheck(identity, deadline),
      Promise.all(regions.map((region) => tokenCheck(tokens, region, tokenNow, deadline))),
      wantsPublic ? tokenCheck(tokens, "public", tokenNow, deadline) : undefined,
    ]);
    const tokenOf = (registry: RegistryHost): { token: RegionToken | undefined; check: string } => {
      const result = registry.public ? publicToken : regionTokens[regions.indexOf(registry.region)];
      return { token: result?.token, check: result?.check.name ?? `ecr token ${registry.region}` };
    };

    // The registries: as configured, or this account's own in AWS_REGION (learnt from its token).
    const checks: DoctorCheck[] = [who.check, ...regionTokens.map((t) => t.check), ...(publicToken ? [publicToken.check] : [])];
    let registries = rotation.registries;
    if (registries.length === 0) {
      const own = regionTokens[0]?.token?.ownRegistry;
      registries = own ? [own] : [];
      if (!own)
        checks.push(
          skip(
            "registry default",
            `the default registry (this account's in ${rotation.defaultRegion}) is learnt from its token, and "ecr token ${rotation.defaultRegion}" failed`,
          ),
        );
    }
    const targets: SecretTarget[] = registries.map((registry) => ({
      name: renderSecretName(rotation.secretNameTemplate, registry),
      kind: "registry",
      registryHost: registry.host,
    }));
    if (rotation.combinedSecretName !== undefined) targets.push({ name: rotation.combinedSecretName, kind: "combined" });

    // 2. The registries, the secrets and the clusters, side by side.
    const [registryLines, secretLines, clusterLines] = await Promise.all([
      Promise.all(
        registries.map((registry) => {
          const { token, check } = tokenOf(registry);
          return registryChecks({ registry, token, tokenCheck: check, probeImage: config.probeImage, principal: who.caller?.arn, http, deadline });
        }),
      ),
      Promise.all(targets.map((target) => secretChecks({ target, secrets, config: rotation, tokenNow, deadline }))),
      clusterChecks(config, request.clusters, tokenNow, deadline, options.clusterChecks ?? loadClusterChecks),
    ]);
    checks.push(...registryLines.flat(), ...secretLines.flat(), ...clusterLines);
    return { checks, ecrCalls: tokens.calls };
  };
}

/** The cluster half's lines; one `clusters` line when none is configured or the half could not run. */
async function clusterChecks(
  config: Config,
  clusters: string[] | undefined,
  tokenNow: () => Date,
  deadline: Deadline | undefined,
  load: () => Promise<ClusterChecks>,
): Promise<DoctorCheck[]> {
  if (config.kubernetes.clusters.length === 0) return [skip("clusters", "no cluster configured (EKS_CLUSTERS): nothing to check in Kubernetes")];
  if (deadline?.expired()) return [deadlineCheck("clusters")];
  try {
    const run = await load();
    return await run({ config, clusters, tokenNow, deadline: deadline ?? NO_DEADLINE });
  } catch (error) {
    if (isDeadlineExceeded(error)) return [deadlineCheck("clusters")];
    return [fail("clusters", `the cluster checks could not run: ${describeError(error)}`, "the message says what failed; the lines above are unaffected")];
  }
}
