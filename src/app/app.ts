/**
 * Wires configuration and the real AWS clients into RunDeps. Used by the handler and the CLI.
 * The Kubernetes step (EKS + apply engine) and the doctor are dynamic imports: the
 * schedule-only path never loads them.
 */
import { prepareEcrClients, sdkEcrApi, sdkSecretsManagerApi } from "../rotation/aws";
import { loadConfig, type Config, type LoadOptions } from "../config/config";
import type { KubernetesStepDeps } from "../clusters/step";
import type { RunDeps } from "../run/run";
import type { Deadline } from "../shared/deadline";

export interface App {
  config: Config;
  deps: RunDeps;
  /**
   * The same dependencies for one invocation bound to its deadline: the SDK adapters end every
   * call by it, the Kubernetes step gets it. (Clients are shared across invocations.)
   */
  withDeadline?: (deadline: Deadline) => RunDeps;
}

export interface AppOptions {
  /** The clock ECR token expiry is judged against (emulators, replays); default: the real clock. */
  tokenNow?: (() => Date) | undefined;
  /** Options for the Kubernetes step (progress reporting, test seams). */
  kubernetes?: KubernetesStepDeps | undefined;
  /** What the run does (see LoadOptions.purpose); default "rotate". */
  purpose?: LoadOptions["purpose"];
}

export function createApp(env: Record<string, string | undefined> = process.env, options: AppOptions = {}): App {
  const config = loadConfig(env, options.purpose ? { purpose: options.purpose } : {});
  prepareEcrClients(new Set(config.rotation.registries.filter((r) => !r.public).map((r) => r.region)));
  const { clusters, fallbackMode } = config.kubernetes;
  const deps = (deadline?: Deadline): RunDeps => ({
    ecr: sdkEcrApi(deadline),
    secrets: sdkSecretsManagerApi(config.rotation.defaultRegion, deadline),
    deadline,
    now: () => new Date(),
    tokenNow: options.tokenNow,
    kubernetes:
      clusters.length > 0 && fallbackMode !== "off"
        ? () => import("../clusters/step").then((m) => m.createKubernetesStep(config, options.kubernetes))
        : undefined,
    diagnose: clusters.length > 0 ? () => import("../clusters/step").then((m) => m.createDiagnoseStep(config, options.kubernetes)) : undefined,
    // The doctor loads its cluster half itself, only when clusters are configured.
    doctor: () => import("../doctor/doctor").then((m) => m.createDoctorStep(config)),
    fallbackOnHeal: fallbackMode !== "off",
    fallbackOnRotate: fallbackMode === "always",
  });
  return { config, deps: deps(), withDeadline: deps };
}
