/**
 * The Kubernetes apply engine: writes the pull Secret into every target namespace of one cluster,
 * optionally patches ServiceAccounts and re-syncs ExternalSecrets.
 *
 * Request budget in steady state: a few cluster-wide paginated LISTs (namespaces; Secrets and
 * ServiceAccounts with `fieldSelector=metadata.name=<name>`; ExternalSecrets by label) and then
 * at most ONE write per namespace (none when nothing changed). The default transport is
 * node:https (./http-client, loaded lazily); `@kubernetes/client-node` (./client) is optional.
 */
import { serializeDockerConfig, type RegistryLogin } from "../formats/dockerconfig";
import { summarizeSecret, type SecretSummary } from "./decide";
import { applyNamespaces } from "./apply-namespace";
import { resyncExternalSecrets } from "./apply-eso";
import { cutReasonOf, isDeadlineExceeded } from "../shared/deadline";
import { MAX_KUBE_CONCURRENCY } from "../shared/names";
import type { ApplyContext, ApplyDeps, ClusterApplyResult, ClusterState, ClusterTarget, NamespaceResult } from "./apply-types";
import { describeFailure } from "./failure";
import { isDnsSubdomain, isValidNamespaceName } from "../shared/names";
import { NamespacesOutOfScopeError, parseLabelSelector, selectNamespaces, withinScope, type SelectedNamespaces } from "./namespaces";
import { counted, forEachListed, reducedNamespace, reducedServiceAccount } from "./paging";
import { scrub, secretValuesOf } from "../shared/redact-text";
import { classify, problemOf } from "./retry";
import { readsOf, type SessionReads } from "../fleet/session";
import { kubeTarget, type KubeApi, type KubeConnection, type KubeNamespace, type KubeSecret, type KubeServiceAccount } from "./types";

export type { KubeConnection } from "./types";
export type { ApplyDeps, ClusterApplyResult, ClusterTarget, NamespaceOutcome, NamespaceResult } from "./apply-types";
export { describeFailure } from "./failure";

/** Checks a target before anything is sent; throws a precise message. */
export function validateTarget(target: ClusterTarget, logins: readonly RegistryLogin[]): void {
  if (logins.length === 0) throw new Error("no registry logins to apply");
  if (!isDnsSubdomain(target.pullSecretName)) {
    throw new Error(`invalid pull secret name "${target.pullSecretName}" (must be a DNS subdomain)`);
  }
  for (const sa of target.patchServiceAccounts) {
    if (!isDnsSubdomain(sa)) throw new Error(`invalid ServiceAccount name "${sa}"`);
  }
  if (!Number.isInteger(target.concurrency) || target.concurrency < 1 || target.concurrency > MAX_KUBE_CONCURRENCY) {
    throw new Error(`concurrency must be an integer from 1 to ${MAX_KUBE_CONCURRENCY}, got ${target.concurrency}`);
  }
  const ns = target.namespaces;
  if (ns.mode === "list") {
    if (ns.names.length === 0) throw new Error("namespace list is empty");
    for (const name of ns.names) if (!isValidNamespaceName(name)) throw new Error(`invalid namespace name "${name}"`);
  } else if (ns.mode === "selector") {
    if (ns.labelSelector.trim() === "") throw new Error("namespace label selector is empty");
    parseLabelSelector(ns.labelSelector);
  }
  if (target.esoResync) parseLabelSelector(target.esoResync.labelSelector);
}

export async function applyToCluster(
  connection: KubeConnection,
  logins: RegistryLogin[],
  target: ClusterTarget,
  deps: ApplyDeps = {},
): Promise<ClusterApplyResult> {
  validateTarget(target, logins);
  const started = Date.now();
  const secrets = secretValuesOf(logins, [connection.token]);
  const result = emptyResult(target);
  const counter = { n: 0 };
  let ownedApi: KubeApi | undefined;
  try {
    if (!deps.session && !deps.api) {
      // Direct callers (tests, bench) without a session or an API get the node:https adapter;
      // the run's Kubernetes step always passes the session it opened (fleet/session.ts).
      const { createHttpKubeApi } = await import("./http-client");
      ownedApi = createHttpKubeApi(connection, { maxSockets: target.concurrency, ...(deps.deadline ? { deadline: deps.deadline } : {}) });
    }
    const session = deps.session ?? readsOf(deps.api ?? ownedApi!, deps);
    const ctx = applyContext({ session: { ...session, api: counted(session.api, counter) }, target, logins, deps, result, secrets });
    // 1–3. The cluster-wide LISTs.
    const state = await listClusterState(ctx);
    if (state === undefined) return result;
    // 4. One task per namespace, bounded concurrency.
    await applyNamespaces(ctx, state);
    // 5. ESO re-sync: the owners of ESO-managed pull secrets (always), and ESO_RESYNC's selection.
    await resyncExternalSecrets(ctx, state);
    // Each row's remarks (what the re-sync did) join its reason, once.
    for (const row of result.namespaces) joinRemarks(row);
    // Totals and notes.
    summarise(result);
    return result;
  } catch (error) {
    if (isDeadlineExceeded(error)) result.deadlineReached = true;
    result.errors.push(`apply failed: ${scrub(error instanceof Error ? error.message : String(error), secrets)}`);
    return result;
  } finally {
    if (ownedApi?.close) await ownedApi.close().catch(() => undefined);
    result.requests = counter.n;
    result.durationMs = Date.now() - started;
    result.ok =
      result.errors.length === 0 &&
      !result.deadlineReached &&
      result.counts.failed === 0 &&
      result.serviceAccounts.failed.length === 0 &&
      result.externalSecrets.failed.length === 0;
  }
}

/** A row's reason followed by its remarks, `; `-separated; the remarks are then dropped. */
function joinRemarks(row: NamespaceResult): void {
  if (row.remarks === undefined) return;
  row.reason = [row.reason, ...row.remarks].filter((t) => t !== undefined && t !== "").join("; ");
  delete row.remarks;
}

function emptyResult(target: ClusterTarget): ClusterApplyResult {
  return {
    cluster: target.cluster,
    dryRun: target.dryRun,
    pullSecretName: target.pullSecretName,
    namespaces: [],
    counts: { created: 0, updated: 0, unchanged: 0, "eso-managed": 0, conflict: 0, failed: 0, skipped: 0 },
    serviceAccounts: { patched: [], unchanged: 0, missing: [], failed: [] },
    externalSecrets: { enabled: target.esoResync !== undefined, resynced: [], failed: [] },
    errors: [],
    problems: [],
    deadlineReached: false,
    notes: [],
    requests: 0,
    durationMs: 0,
    ok: false,
  };
}

/** The context one apply shares: its session, what it was given, and the encoding derived from it. */
function applyContext(given: Pick<ApplyContext, "target" | "logins" | "deps" | "result" | "secrets"> & { session: SessionReads }): ApplyContext {
  const { session, ...rest } = given;
  const secrets = given.secrets;
  const encoded = new Map<string, string>();
  return {
    ...session,
    ...rest,
    describe: (error, verb, resource, namespace) => describeFailure(error, verb, resource, namespace, secrets),
    encode: (merged, foreign) => {
      const key = foreign ? serializeDockerConfig(foreign) : "";
      let value = encoded.get(key);
      if (value === undefined) {
        value = Buffer.from(serializeDockerConfig(merged), "utf8").toString("base64");
        if (encoded.size < 64) encoded.set(key, value);
      }
      return value;
    },
  };
}

type Settled<T> = { value: T } | { error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

/** The namespaces the target's mode lets the API server filter (label selector), reduced on arrival. */
async function listNamespaces(ctx: ApplyContext): Promise<KubeNamespace[]> {
  const nsTarget = ctx.target.namespaces;
  const namespaces: KubeNamespace[] = [];
  const options = nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {};
  await forEachListed(
    (o, onItem) => ctx.api.listNamespaces(o, onItem),
    options,
    (n) => void namespaces.push(n),
    ctx.paging,
    reducedNamespace,
  );
  return namespaces;
}

/** The pull secrets, by namespace (fieldSelector by name), each summarised on arrival — no docker config content is kept. */
async function listPullSecrets(ctx: ApplyContext): Promise<Map<string, SecretSummary>> {
  const name = ctx.target.pullSecretName;
  const found = new Map<string, SecretSummary>();
  await forEachListed<KubeSecret, [string, SecretSummary]>(
    (o, onItem) => ctx.api.listSecrets(o, onItem),
    { fieldSelector: `metadata.name=${name}` },
    ([ns, summary]) => void found.set(ns, summary),
    ctx.paging,
    (s) => {
      const ns = s.metadata.namespace;
      return ns && s.metadata.name === name ? [ns, summarizeSecret(s, ctx.logins, ctx.target.withdrawHosts)] : undefined;
    },
  );
  return found;
}

/** The ServiceAccounts named `sa`, by namespace. */
async function listServiceAccounts(ctx: ApplyContext, sa: string): Promise<Map<string, KubeServiceAccount>> {
  const byNs = new Map<string, KubeServiceAccount>();
  await forEachListed<KubeServiceAccount, KubeServiceAccount>(
    (o, onItem) => ctx.api.listServiceAccounts(o, onItem),
    { fieldSelector: `metadata.name=${sa}` },
    (item) => void byNs.set(item.metadata.namespace!, item),
    ctx.paging,
    (item) => (item.metadata.namespace && item.metadata.name === sa ? reducedServiceAccount(item) : undefined),
  );
  return byNs;
}

/**
 * Which namespaces to write to, from the namespace LIST; undefined (with the error recorded) when
 * they cannot be known, or when a request named namespaces outside the configured selector (then
 * nothing is written to this cluster).
 */
function selectionOf(ctx: ApplyContext, listedNamespaces: Settled<KubeNamespace[]>): SelectedNamespaces | undefined {
  const { result, describe } = ctx;
  const nsTarget = ctx.target.namespaces;
  if ("value" in listedNamespaces) {
    const selection = selectNamespaces(nsTarget, listedNamespaces.value);
    if (selection.outside.length > 0 && nsTarget.mode === "list" && nsTarget.within) {
      refuseOutOfScope(result, new NamespacesOutOfScopeError(selection.outside, withinScope(nsTarget.within)));
      return undefined;
    }
    result.listedNamespaces = [...selection.selected, ...selection.skipped.map((s) => s.namespace)];
    return selection;
  }
  if (isDeadlineExceeded(listedNamespaces.error)) {
    result.deadlineReached = true;
    if (nsTarget.mode === "list") {
      for (const ns of [...new Set(nsTarget.names)].sort()) {
        result.namespaces.push({ namespace: ns, outcome: "skipped", reason: cutReasonOf(listedNamespaces.error), problem: problemOf(listedNamespaces.error) });
      }
      result.problems.push(problemOf(listedNamespaces.error));
    }
    const why = cutReasonOf(listedNamespaces.error);
    result.errors.push(`skipped: ${why} (the namespaces could not be listed before ${why === "interrupted" ? "the interrupt" : "the invocation's deadline"})`);
    return undefined;
  }
  if (nsTarget.mode === "list" && classify(listedNamespaces.error).kind === "forbidden") {
    const why = describe(listedNamespaces.error, "list", "namespaces");
    if (nsTarget.within) {
      // Without the namespaces' labels, a request's names cannot be checked against the selector.
      refuseOutOfScope(
        result,
        new NamespacesOutOfScopeError(
          [...new Set(nsTarget.names)].sort(),
          `${withinScope(nsTarget.within)}; cannot list namespaces to check their labels: ${why}`,
        ),
      );
      return undefined;
    }
    // Without list on namespaces, an explicit list can still be applied; a missing namespace
    // then shows up as a 404 on its write.
    result.notes.push(`cannot list namespaces (${why}); applying to the configured names unchecked`);
    return { selected: [...new Set(nsTarget.names)].sort(), missing: [], skipped: [], outside: [] };
  }
  result.errors.push(`listing namespaces failed: ${describe(listedNamespaces.error, "list", "namespaces")}`);
  result.problems.push(problemOf(listedNamespaces.error, kubeTarget({ verb: "list", resource: "namespaces" })));
  return undefined;
}

/** A request outside the configured namespaces: the cluster's error, and the names refused. */
function refuseOutOfScope(result: ClusterApplyResult, error: NamespacesOutOfScopeError): void {
  result.outOfScope = [...error.namespaces];
  result.errors.push(error.message);
}

/**
 * 1–3. The cluster-wide LISTs run concurrently: namespaces; the pull secrets; one LIST per
 * ServiceAccount name. A forbidden Secret/SA list falls back to one GET per namespace.
 * Returns undefined (with the error recorded) when the namespaces cannot be known.
 */
async function listClusterState(ctx: ApplyContext): Promise<ClusterState | undefined> {
  const { target, result, describe } = ctx;
  const [listedNamespaces, listedSecrets, ...listedSAs] = await Promise.all([
    settle(listNamespaces(ctx)),
    settle(listPullSecrets(ctx)),
    ...target.patchServiceAccounts.map((sa) => settle(listServiceAccounts(ctx, sa))),
  ]);

  const selection = selectionOf(ctx, listedNamespaces);
  if (selection === undefined) return undefined;
  const selected = selection.selected;
  for (const ns of selection.missing) result.namespaces.push({ namespace: ns, outcome: "failed", reason: `namespace ${ns} not found` });
  for (const s of selection.skipped) result.namespaces.push({ namespace: s.namespace, outcome: "skipped", reason: s.reason });

  let knownSecrets: Map<string, SecretSummary> | undefined;
  if ("value" in listedSecrets) knownSecrets = listedSecrets.value;
  else if (selected.length > 0) {
    result.notes.push(`cluster-wide list of secrets failed (${describe(listedSecrets.error, "list", "secrets")}); reading each namespace's secret instead`);
  }
  const knownSAs = new Map<string, Map<string, KubeServiceAccount>>();
  target.patchServiceAccounts.forEach((sa, i) => {
    const listed = listedSAs[i]!;
    if ("value" in listed) knownSAs.set(sa, listed.value);
    else if (selected.length > 0) {
      result.notes.push(
        `cluster-wide list of serviceaccounts "${sa}" failed (${describe(listed.error, "list", "serviceaccounts")}); reading each namespace's instead`,
      );
    }
  });
  return { selected, knownSecrets, knownSAs };
}

/** Totals per outcome, ServiceAccount rows, and what the writes mean for running pods. */
function summarise(result: ClusterApplyResult): void {
  for (const n of result.namespaces) {
    result.counts[n.outcome]++;
    for (const sa of n.serviceAccountsPatched ?? []) result.serviceAccounts.patched.push(`${n.namespace}/${sa}`);
    for (const sa of n.serviceAccountsMissing ?? []) result.serviceAccounts.missing.push(`${n.namespace}/${sa}`);
    for (const f of n.serviceAccountsFailed ?? []) result.serviceAccounts.failed.push({ serviceAccount: `${n.namespace}/${f.name}`, reason: f.reason });
  }
  const verbPrefix = result.dryRun ? "would be " : "";
  if (result.counts.updated > 0) {
    result.notes.push(`${result.counts.updated} pull secret(s) ${verbPrefix}updated in place: the kubelet reads them at pull time, no pod restart needed`);
  }
  if (result.counts.created > 0) {
    result.notes.push(
      `${result.counts.created} pull secret(s) ${verbPrefix}created: pods reference them through imagePullSecrets (their own or their ServiceAccount's)`,
    );
  }
  if (result.serviceAccounts.patched.length > 0) {
    result.notes.push(
      `${result.serviceAccounts.patched.length} ServiceAccount(s) ${verbPrefix}patched: only pods created from now on get the imagePullSecret; existing pods without it must be recreated`,
    );
  }
}
