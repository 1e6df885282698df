/**
 * Step 4 of the apply engine: per namespace, the pull secret (at most one write, a 409 re-reads,
 * a lost write response is recognised on the re-read), then the requested ServiceAccounts.
 */
import { decideSecret, decideServiceAccount, ESO_MANAGED_LABEL, summarizeSecret, type SecretDecision, type SecretSummary } from "./decide";
import { cutReasonOf, DEADLINE_REASON, INTERRUPTED_REASON, isDeadlineExceeded } from "../shared/deadline";
import { deadlineProblem } from "../shared/problem";
import { problemOf } from "./retry";
import type { ApplyContext, ClusterState, NamespaceResult } from "./apply-types";
import { pool } from "./paging";
import { withRetry } from "./retry";
import { KubeApiError, kubeTarget, type KubeServiceAccount, type KubeVerb } from "./types";

export async function applyNamespaces(ctx: ApplyContext, state: ClusterState): Promise<void> {
  let done = 0;
  const total = state.selected.length;
  ctx.deps.onProgress?.(0, total);
  const perNamespace: NamespaceResult[] = [];
  await pool(state.selected, ctx.target.concurrency, async (namespace) => {
    perNamespace.push(await applyNamespace(ctx, state, namespace));
    done++;
    ctx.deps.onProgress?.(done, total);
  });
  ctx.result.namespaces.push(...perNamespace);
  ctx.result.namespaces.sort((a, b) => a.namespace.localeCompare(b.namespace));
}

/** How far a pull secret write got: the last verb tried, the attempts, and a write whose response was lost. */
interface WriteProgress {
  verb: KubeVerb;
  attempts: number;
  decision?: SecretDecision;
  /**
   * A write whose response was lost (network error) may have been applied: if the re-read then
   * finds our content, report that write, not "unchanged".
   */
  lostWrite?: "created" | "updated";
}

/** One namespace: the pull secret (at most one write), then its ServiceAccounts. */
async function applyNamespace(ctx: ApplyContext, state: ClusterState, namespace: string): Promise<NamespaceResult> {
  const r: NamespaceResult = { namespace, outcome: "failed" };
  if (ctx.deps.deadline?.expired()) {
    ctx.result.deadlineReached = true;
    const why = ctx.deps.deadline.interrupted() ? INTERRUPTED_REASON : DEADLINE_REASON;
    return { namespace, outcome: "skipped", reason: why, problem: deadlineProblem(kubeTarget({ verb: "get", resource: "secrets", namespace }), "", why) };
  }
  const progress: WriteProgress = { verb: "get", attempts: 0 };
  try {
    await writePullSecret(ctx, state, namespace, progress);
    recordSecretOutcome(r, progress);
    // A dry run writes nothing: the row says whether it would have.
    if (ctx.target.dryRun) r.wouldWrite = progress.decision!.action === "create" || progress.decision!.action === "update";
  } catch (error) {
    if (isDeadlineExceeded(error)) {
      ctx.result.deadlineReached = true;
      r.outcome = "skipped";
      // A write in flight when the deadline came may have been applied: say so.
      const why = cutReasonOf(error);
      r.reason = progress.verb === "get" ? why : `${why} (cut during ${progress.verb}: the write may have been applied)`;
      r.problem = problemOf(error, kubeTarget({ verb: progress.verb, resource: "secrets", namespace }));
      return r;
    }
    r.outcome = "failed";
    r.reason = ctx.describe(error, progress.verb, "secrets", namespace);
    r.problem = problemOf(error, kubeTarget({ verb: progress.verb, resource: "secrets", namespace }));
  }
  if (progress.attempts > 1) r.attempts = progress.attempts;
  if (r.outcome !== "failed" && r.outcome !== "conflict") await patchServiceAccounts(ctx, state, namespace, r);
  else if (ctx.target.patchServiceAccounts.length > 0 && r.outcome === "conflict") {
    r.reason += "; ServiceAccounts not patched";
  }
  return r;
}

/** Decides and makes the pull secret's write (create, merge patch, or none), retried; a 409 re-reads first. */
async function writePullSecret(ctx: ApplyContext, state: ClusterState, namespace: string, progress: WriteProgress): Promise<void> {
  const { api, target, logins, encode } = ctx;
  const name = target.pullSecretName;
  let existing: SecretSummary | undefined = state.knownSecrets?.get(namespace);
  // Each summary is used once: the map shrinks as the namespaces are done (a 409 re-reads).
  state.knownSecrets?.delete(namespace);
  let mustRead = state.knownSecrets === undefined;
  const noteLost = (error: unknown, what: "created" | "updated"): never => {
    if (error instanceof KubeApiError && error.problem.kind === "network") progress.lostWrite ??= what;
    throw error;
  };
  const decide = () => decideSecret({ namespace, name, existing, logins, withdraw: target.withdrawHosts ?? [], adoptUnmanaged: target.adoptUnmanaged, encode });
  await withRetry(
    async (attempt) => {
      progress.attempts = attempt;
      if (mustRead) {
        progress.verb = "get";
        const fresh = await api.readSecret(namespace, name);
        existing = fresh ? summarizeSecret(fresh, logins, target.withdrawHosts) : undefined;
        mustRead = false;
      }
      let decision = (progress.decision = decide());
      if (target.dryRun) return;
      if (decision.action === "create") {
        progress.verb = "create";
        await api.createSecret(namespace, decision.body).catch((e: unknown) => noteLost(e, "created"));
      } else if (decision.action === "update") {
        progress.verb = "patch";
        try {
          await api.patchSecret(namespace, name, decision.patch);
        } catch (error) {
          // Deleted since we listed it: create it instead (the namespace itself may be gone,
          // then the create fails with its own 404).
          if (!(error instanceof KubeApiError && error.status === 404)) noteLost(error, "updated");
          existing = undefined;
          decision = progress.decision = decide();
          progress.verb = "create";
          if (decision.action === "create") await api.createSecret(namespace, decision.body).catch((e: unknown) => noteLost(e, "created"));
        }
      }
    },
    ctx.policy,
    { ...ctx.hooks, onConflict: () => Promise.resolve(void (mustRead = true)) },
  );
}

/** The namespace row's outcome and remark from the final decision. */
function recordSecretOutcome(r: NamespaceResult, progress: WriteProgress): void {
  const d = progress.decision!;
  const lostWrite = progress.lostWrite;
  if (d.action === "create") r.outcome = "created";
  else if (d.action === "update") {
    r.outcome = "updated";
    const remarks = [d.adopted ? "adopted an unmanaged Secret" : "", d.replacedInvalid ? "replaced content that was not a valid docker config" : ""].filter(
      Boolean,
    );
    if (remarks.length) r.reason = remarks.join("; ");
  } else if (d.action === "unchanged") {
    r.outcome = lostWrite ?? "unchanged";
    if (lostWrite) r.reason = "the response to the write was lost; a re-read confirmed it was applied";
  } else if (d.action === "eso-managed") {
    r.outcome = "eso-managed";
    r.reason = d.owner
      ? `owned by ExternalSecret ${r.namespace}/${d.owner}: not written`
      : `labelled ${ESO_MANAGED_LABEL}=true by External Secrets Operator: not written`;
    if (d.owner) r.externalSecret = `${r.namespace}/${d.owner}`;
  } else if (d.action === "refused") {
    r.outcome = "failed";
    r.reason = d.reason;
  } else {
    r.outcome = "conflict";
    r.reason = d.reason;
  }
}

/** Gives each requested ServiceAccount of `namespace` the pull secret (one merge patch when missing). */
async function patchServiceAccounts(ctx: ApplyContext, state: ClusterState, namespace: string, r: NamespaceResult): Promise<void> {
  const { api, target } = ctx;
  for (const saName of target.patchServiceAccounts) {
    const known = state.knownSAs.get(saName);
    let sa: KubeServiceAccount | undefined = known?.get(namespace);
    let mustRead = known === undefined;
    let verb: KubeVerb = "get";
    try {
      const decision = await withRetry(
        async () => {
          if (mustRead) {
            verb = "get";
            sa = await api.readServiceAccount(namespace, saName);
            mustRead = false;
          }
          const d = decideServiceAccount(sa, target.pullSecretName);
          if (d.action === "patch" && !target.dryRun) {
            verb = "patch";
            await api.patchServiceAccount(namespace, saName, d.patch);
          }
          return d;
        },
        ctx.policy,
        { ...ctx.hooks, onConflict: () => Promise.resolve(void (mustRead = true)) },
      );
      if (decision.action === "invalid") (r.serviceAccountsFailed ??= []).push({ name: saName, reason: decision.reason });
      else if (decision.action === "patch") {
        (r.serviceAccountsPatched ??= []).push(saName);
        if (target.dryRun) r.wouldWrite = true;
      } else if (decision.action === "missing") (r.serviceAccountsMissing ??= []).push(saName);
      else ctx.result.serviceAccounts.unchanged++;
    } catch (error) {
      (r.serviceAccountsFailed ??= []).push({ name: saName, reason: ctx.describe(error, verb, "serviceaccounts", namespace) });
    }
  }
}

/** 5. Annotates the matching ExternalSecrets of the selected namespaces with `force-sync`. */
