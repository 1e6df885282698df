/**
 * Runs a Request end to end and builds the Report. Shared by the Lambda handler and the CLI.
 */
import { selectClusters } from "../request/cluster-selection";
import { checkRequestScope } from "../request/scope";
import type { Config } from "../config/config";
import type { EcrApi } from "../rotation/ecr";
import { BadRequestError, describeError } from "../shared/errors";
import type { KubernetesReport, Report } from "../report/report";
import type { DoctorCheck } from "../report/checks";
import { openSecretScope, scrubDeep } from "../shared/redact";
import { DEADLINE_REASON, INTERRUPTED_REASON, type Deadline } from "../shared/deadline";
import type { Problem } from "../shared/problem";
import { isValidNamespaceName } from "../shared/names";
import { rotate, type RotationOutcome } from "../rotation/rotate";
import type { SecretsApi } from "../rotation/secrets-manager";
import { classifyEvent, type Request, type Trigger } from "../request/triggers";
import { restartDecision } from "../request/restart-request";
import type { RegistryCredential } from "../rotation/ecr";

/** The Kubernetes half (fallback apply, ESO re-sync, diagnosis); loaded lazily. */
export interface KubernetesStep {
  (input: {
    request: Request;
    credentials: RegistryCredential[];
    reason: "heal" | "always";
    deadline?: Deadline;
    withdrawn?: string[];
  }): Promise<KubernetesReport>;
}

/** The read-only diagnose action over the selected clusters; loaded lazily. */
export interface DiagnoseStep {
  (input: { request: Request; deadline?: Deadline }): Promise<KubernetesReport>;
}

/** What the doctor found: the checklist, and how many GetAuthorizationToken calls it made. */
export interface DoctorResult {
  checks: DoctorCheck[];
  ecrCalls: number;
}

/** The read-only doctor action (src/doctor); loaded lazily. It reads through the run's own AWS adapters. */
export interface DoctorStep {
  (input: { request: Request; ecr: EcrApi; secrets: SecretsApi; tokenNow: () => Date; deadline?: Deadline }): Promise<DoctorResult>;
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
  /** Loads the doctor on demand; undefined: this deployment has no doctor wired (a bad request). */
  doctor?: (() => Promise<DoctorStep>) | undefined;
  /** When the fallback also runs on plain rotations ("always"). */
  fallbackOnRotate?: boolean;
  /** When the fallback runs on heal ("on-heal" or "always"). */
  fallbackOnHeal?: boolean;
  /** When set, a missing secret is not created: why (the CLI with only default configuration, no --create). */
  refuseCreate?: string | undefined;
  /**
   * The invocation's deadline (Lambda: remaining time minus a reporting reserve; CLI:
   * --timeout). Work left when it passes is reported `skipped` (reason `deadline`) and the run
   * fails; the Report is still returned. The SDK adapters in `ecr`/`secrets` must be bound to it
   * too (src/app/app.ts does so).
   */
  deadline?: Deadline | undefined;
}

/** A Report for `request` before anything ran: not ok yet, no ECR call, no registry, no error. */
function startReport(request: Request, started: Date): Report {
  return {
    ok: false,
    action: request.action,
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
}

/**
 * Whether the deadline cut any work, from the typed marks only: a registry row `skipped` (only
 * the deadline skips one), a deadline Problem on the combined secret, a namespace or a check, a
 * cluster `skipped: "deadline"`, or a run-level deadline Problem.
 */
function deadlineCut(report: Report, runProblems: readonly Problem[]): boolean {
  const isDeadline = (p: Problem | undefined): boolean => p?.kind === "deadline";
  return (
    report.registries.some((r) => r.outcome === "skipped") ||
    isDeadline(report.combinedSecret?.problem) ||
    (report.kubernetes?.clusters ?? []).some((c) => c.skipped === "deadline" || c.namespaces.some((n) => isDeadline(n.problem))) ||
    runProblems.some(isDeadline) ||
    (report.checks ?? []).some((c) => isDeadline(c.problem))
  );
}

/** Report.deadline (and Report.interrupted), and the run's failure when the deadline or an interrupt cut something. */
function recordDeadline(report: Report, deadline: Deadline | undefined, runProblems: readonly Problem[] = []): void {
  if (deadline === undefined) return;
  if (deadline.interrupted()) {
    report.interrupted = true;
    report.errors.push(`skipped: ${INTERRUPTED_REASON}: the run was interrupted; the work not done is marked so, the rows say what was written`);
  }
  if (!Number.isFinite(deadline.at)) return;
  const reached = !deadline.interrupted() && deadlineCut(report, runProblems);
  report.deadline = { at: new Date(deadline.at).toISOString(), reached };
  if (reached && report.errors.length === 0) report.errors.push(`skipped: ${DEADLINE_REASON}: work was left when the invocation's deadline came`);
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
  // Clusters and namespaces outside the configuration are refused before anything is written.
  checkRequestScope(config.kubernetes, request);
  // …and so is a request for pod restarts the configuration does not allow.
  const restart = restartDecision(config.kubernetes.restartStuckPods, request.restartPods);
  if ("refused" in restart) throw BadRequestError.manual(restart.refused);
  if (request.action === "diagnose") return diagnose(request, deps, started, startedMs);
  if (request.action === "doctor") return doctor(request, deps, started, startedMs);
  const deadline = deps.deadline;
  const rotation = await rotate(config.rotation, deps, {
    dryRun: request.dryRun,
    force: request.force,
    registries: request.registries,
    refuseCreate: deps.refuseCreate,
  });
  const report: Report = {
    ...startReport(request, started),
    ecrCalls: rotation.ecrCalls,
    registries: rotation.registries,
    tokenSecondsRemaining: rotation.tokenSecondsRemaining,
    errors: [...rotation.errors],
  };
  if (rotation.combinedSecret) report.combinedSecret = rotation.combinedSecret;

  await pushToClusters(report, request, config, deps, rotation);

  recordDeadline(report, deadline, rotation.problems);
  report.ok = report.errors.length === 0;
  report.durationMs = Date.now() - startedMs;
  return scrubDeep(report);
}

/** The Kubernetes half of a rotate or heal: the step when configured and wanted, else why not. */
async function pushToClusters(report: Report, request: Request, config: Config, deps: RunDeps, rotation: RotationOutcome): Promise<void> {
  const deadline = deps.deadline;
  const wantsKubernetes = request.action === "heal" ? deps.fallbackOnHeal !== false : deps.fallbackOnRotate === true;
  if (!wantsKubernetes) {
    if (request.action === "heal") report.kubernetes = { mode: "skipped", reason: "FALLBACK_MODE=off", clusters: [] };
    return;
  }
  if (deps.kubernetes === undefined) {
    report.kubernetes = {
      mode: "skipped",
      reason:
        "no cluster configured (EKS_CLUSTERS is empty): no pull Secret was pushed, no ExternalSecret re-synced and no pod diagnosed; only Secrets Manager was refreshed (ESO picks it up at its next refresh)",
      clusters: [],
    };
  } else if (rotation.stored.length === 0) {
    report.kubernetes = { mode: "skipped", reason: "no credential in Secrets Manager to push", clusters: [] };
  } else if (deadline?.expired()) {
    const why = deadline.interrupted() ? INTERRUPTED_REASON : DEADLINE_REASON;
    const clusters = selectClusters(config.kubernetes.clusters, request).map((c) => ({
      cluster: c.name,
      region: c.region,
      ok: false,
      skipped: "deadline" as const,
      error: `skipped: ${why}`,
      namespaces: [],
    }));
    report.kubernetes = { mode: "skipped", reason: why, clusters };
    for (const c of clusters) report.errors.push(`cluster ${c.cluster}: skipped: ${why}`);
  } else {
    try {
      const step = await deps.kubernetes();
      report.kubernetes = await step({
        request,
        credentials: rotation.stored,
        reason: request.action === "heal" ? "heal" : "always",
        ...(deadline ? { deadline } : {}),
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
}

/** The diagnose action: read-only — no ECR call, no Secrets Manager write, no Kubernetes write. */
async function diagnose(request: Request, deps: RunDeps, started: Date, startedMs: number): Promise<Report> {
  const report = startReport(request, started);
  const badNamespaces = (request.namespaces ?? []).filter((ns) => !isValidNamespaceName(ns));
  if (badNamespaces.length > 0) {
    throw BadRequestError.manual(`namespaces: ${badNamespaces.map((n) => JSON.stringify(n)).join(", ")} not a valid namespace name (lower-case DNS label)`);
  }
  if (deps.diagnose === undefined) {
    throw new BadRequestError('action "diagnose" needs a cluster: none is configured (EKS_CLUSTERS)');
  }
  try {
    const step = await deps.diagnose();
    report.kubernetes = await step({ request, ...(deps.deadline ? { deadline: deps.deadline } : {}) });
    for (const cluster of report.kubernetes.clusters) {
      if (!cluster.ok) report.errors.push(`cluster ${cluster.cluster}: ${cluster.error ?? "diagnosis failed"}`);
    }
  } catch (error) {
    report.kubernetes = { mode: "skipped", reason: `failed: ${describeError(error)}`, clusters: [] };
    report.errors.push(`kubernetes: ${describeError(error)}`);
  }
  recordDeadline(report, deps.deadline);
  report.ok = report.errors.length === 0;
  report.durationMs = Date.now() - startedMs;
  return scrubDeep(report);
}

/**
 * The doctor action: read-only — GetAuthorizationToken and reads only. A failed check is a
 * finding: the Report says which (`checks`, one error each) and the run is not ok.
 */
async function doctor(request: Request, deps: RunDeps, started: Date, startedMs: number): Promise<Report> {
  if (deps.doctor === undefined) throw new BadRequestError('action "doctor" is not available in this deployment');
  const step = await deps.doctor();
  const result = await step({
    request,
    ecr: deps.ecr,
    secrets: deps.secrets,
    tokenNow: deps.tokenNow ?? deps.now,
    ...(deps.deadline ? { deadline: deps.deadline } : {}),
  });
  const report: Report = {
    ...startReport(request, started),
    ecrCalls: result.ecrCalls,
    checks: result.checks,
    errors: result.checks.filter((c) => c.status === "fail").map((c) => `${c.name}: ${c.detail}`),
  };
  recordDeadline(report, deps.deadline);
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
