/**
 * Runs a Request end to end and builds the Report. Shared by the Lambda handler and the CLI.
 */
import { selectClusters } from "../request/cluster-selection";
import type { Config } from "../config/config";
import type { EcrApi } from "../rotation/ecr";
import { BadRequestError, describeError } from "../shared/errors";
import type { KubernetesReport, Report } from "../report/report";
import { openSecretScope, scrubDeep } from "../shared/redact";
import { isValidNamespaceName } from "../shared/names";
import { rotate } from "../rotation/rotate";
import type { SecretsApi } from "../rotation/secrets-manager";
import { classifyEvent, type Request, type Trigger } from "../request/triggers";
import type { RegistryCredential } from "../rotation/ecr";

/** The Kubernetes half (fallback apply, ESO re-sync, diagnosis); loaded lazily. */
export interface KubernetesStep {
  (input: { request: Request; credentials: RegistryCredential[]; reason: "heal" | "always"; withdrawn?: string[] }): Promise<KubernetesReport>;
}

/** The read-only diagnose action over the selected clusters; loaded lazily. */
export interface DiagnoseStep {
  (input: { request: Request }): Promise<KubernetesReport>;
}

export interface RunDeps {
  ecr: EcrApi;
  secrets: SecretsApi;
  /** Wall clock (debounce, timestamps). */
  now: () => Date;
  /** Clock for judging ECR token expiry; defaults to `now` (see RotationDeps.tokenNow). */
  tokenNow?: (() => Date) | undefined;
  /** Loads the Kubernetes step on demand; undefined when no cluster is configured. */
  kubernetes?: (() => Promise<KubernetesStep>) | undefined;
  /** Loads the diagnose step on demand; undefined when no cluster is configured. */
  diagnose?: (() => Promise<DiagnoseStep>) | undefined;
  /** When the fallback also runs on plain rotations ("always"). */
  fallbackOnRotate?: boolean;
  /** When the fallback runs on heal ("on-heal" or "always"). */
  fallbackOnHeal?: boolean;
  /** When set, a missing secret is not created: why (the CLI with only default configuration, no --create). */
  refuseCreate?: string | undefined;
}

export async function runRequest(request: Request, config: Config, deps: RunDeps): Promise<Report> {
  // Every credential this run registers stays on the scrub list until it ends.
  const closeScope = openSecretScope();
  try {
    return await runScoped(request, config, deps);
  } finally {
    closeScope();
  }
}

async function runScoped(request: Request, config: Config, deps: RunDeps): Promise<Report> {
  const started = deps.now();
  const startedMs = Date.now();
  // Bad cluster names are rejected before anything is written.
  if (request.clusters !== undefined) selectClusters(config.kubernetes.clusters, request);
  if (request.action === "diagnose") return diagnose(request, deps, started, startedMs);
  const rotation = await rotate(config.rotation, deps, {
    dryRun: request.dryRun,
    force: request.force,
    registries: request.registries,
    refuseCreate: deps.refuseCreate,
  });
  const report: Report = {
    ok: false,
    action: request.action,
    trigger: request.trigger,
    dryRun: request.dryRun,
    force: request.force,
    startedAt: started.toISOString(),
    durationMs: 0,
    ecrCalls: rotation.ecrCalls,
    registries: rotation.registries,
    tokenSecondsRemaining: rotation.tokenSecondsRemaining,
    errors: [...rotation.errors],
  };
  if (rotation.combinedSecret) report.combinedSecret = rotation.combinedSecret;

  const wantsKubernetes = request.action === "heal" ? deps.fallbackOnHeal !== false : deps.fallbackOnRotate === true;
  if (wantsKubernetes) {
    if (deps.kubernetes === undefined) {
      report.kubernetes = {
        mode: "skipped",
        reason:
          "no cluster configured (EKS_CLUSTERS is empty): no pull Secret was pushed, no ExternalSecret re-synced and no pod diagnosed; only Secrets Manager was refreshed (ESO picks it up at its next refresh)",
        clusters: [],
      };
    } else if (rotation.stored.length === 0) {
      report.kubernetes = { mode: "skipped", reason: "no credential in Secrets Manager to push", clusters: [] };
    } else {
      try {
        const step = await deps.kubernetes();
        report.kubernetes = await step({
          request,
          credentials: rotation.stored,
          reason: request.action === "heal" ? "heal" : "always",
          ...(rotation.withdrawn.length > 0 ? { withdrawn: rotation.withdrawn } : {}),
        });
        for (const cluster of report.kubernetes.clusters) {
          if (!cluster.ok) report.errors.push(`cluster ${cluster.cluster}: ${cluster.error ?? "some namespaces failed"}`);
        }
      } catch (error) {
        report.kubernetes = { mode: "skipped", reason: `failed: ${describeError(error)}`, clusters: [] };
        report.errors.push(`kubernetes: ${describeError(error)}`);
      }
    }
  } else if (request.action === "heal") {
    report.kubernetes = { mode: "skipped", reason: "FALLBACK_MODE=off", clusters: [] };
  }

  report.ok = report.errors.length === 0;
  report.durationMs = Date.now() - startedMs;
  return scrubDeep(report);
}

/** The diagnose action: read-only — no ECR call, no Secrets Manager write, no Kubernetes write. */
async function diagnose(request: Request, deps: RunDeps, started: Date, startedMs: number): Promise<Report> {
  const report: Report = {
    ok: false,
    action: "diagnose",
    trigger: request.trigger,
    dryRun: request.dryRun,
    force: request.force,
    startedAt: started.toISOString(),
    durationMs: 0,
    ecrCalls: 0,
    registries: [],
    tokenSecondsRemaining: null,
    errors: [],
  };
  const badNamespaces = (request.namespaces ?? []).filter((ns) => !isValidNamespaceName(ns));
  if (badNamespaces.length > 0) {
    throw BadRequestError.manual(`namespaces: ${badNamespaces.map((n) => JSON.stringify(n)).join(", ")} not a valid namespace name (lower-case DNS label)`);
  }
  if (deps.diagnose === undefined) {
    throw new BadRequestError('action "diagnose" needs a cluster: none is configured (EKS_CLUSTERS)');
  }
  try {
    const step = await deps.diagnose();
    report.kubernetes = await step({ request });
    for (const cluster of report.kubernetes.clusters) {
      if (!cluster.ok) report.errors.push(`cluster ${cluster.cluster}: ${cluster.error ?? "diagnosis failed"}`);
    }
  } catch (error) {
    report.kubernetes = { mode: "skipped", reason: `failed: ${describeError(error)}`, clusters: [] };
    report.errors.push(`kubernetes: ${describeError(error)}`);
  }
  report.ok = report.errors.length === 0;
  report.durationMs = Date.now() - startedMs;
  return scrubDeep(report);
}

/** A Report for an event that was deliberately ignored (e.g. an alarm returning to OK). */
export function ignoredReport(trigger: Trigger, reason: string, now: Date): Report {
  return {
    ok: true,
    action: "none",
    trigger,
    dryRun: false,
    force: false,
    startedAt: now.toISOString(),
    durationMs: 0,
    ecrCalls: 0,
    registries: [],
    tokenSecondsRemaining: null,
    ignored: reason,
    errors: [],
  };
}

export async function handleEvent(event: unknown, config: Config, deps: RunDeps): Promise<Report> {
  const classification = classifyEvent(event);
  if (classification.kind === "ignore") return ignoredReport(classification.trigger, classification.reason, deps.now());
  return runRequest(classification.request, config, deps);
}
