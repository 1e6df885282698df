/**
 * The Kubernetes apply engine: writes the pull Secret into every target namespace of one cluster,
 * optionally patches ServiceAccounts and re-syncs ExternalSecrets.
 *
 * Request budget in steady state: a few cluster-wide paginated LISTs (namespaces; Secrets and
 * ServiceAccounts with `fieldSelector=metadata.name=<name>`; ExternalSecrets by label) and then
 * at most ONE write per namespace (none when nothing changed). The default transport is
 * node:https (./http-client, loaded lazily); `@kubernetes/client-node` (./client) is optional.
 */
import { serializeDockerConfig, type DockerConfig, type RegistryLogin } from "../formats/dockerconfig";
import { decideSecret, decideServiceAccount, ESO_MANAGED_LABEL, forceSyncPatch, summarizeSecret, type SecretDecision, type SecretSummary } from "./decide";
import { isValidNamespaceName, matchesLabelSelector, parseLabelSelector, selectNamespaces, type NamespaceTarget } from "./namespaces";
import { forEachListed, pool, reducedNamespace, type Paging } from "./paging";
import { scrub, secretValuesOf } from "./redact";
import { classify, DEFAULT_RETRY_POLICY, withRetry, type RetryHooks, type RetryPolicy } from "./retry";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { KubeApiError, type KubeApi, type KubeConnection, type KubeExternalSecret, type KubeNamespace, type KubeResource, type KubeServiceAccount, type KubeVerb } from "./types";

export type { KubeConnection } from "./types";

/** Page size of the cluster-wide LISTs of namespaces, ServiceAccounts, ExternalSecrets. */
const LIST_PAGE_SIZE = 500;
/** Page size of the Secret LIST (see ApplyDeps.secretPageSize). */
const SECRET_LIST_PAGE_SIZE = 200;

export interface ClusterTarget {
  /** Cluster name, for the report. */
  cluster: string;
  namespaces: NamespaceTarget;
  /** Name of the pull Secret, e.g. `ecr-pull-secret`. */
  pullSecretName: string;
  /** ServiceAccounts whose `imagePullSecrets` gain the Secret, e.g. `["default"]`; `[]` = none. */
  patchServiceAccounts: string[];
  /** Annotate matching ExternalSecrets with `force-sync=<unix seconds>`; undefined = off. */
  esoResync?: { labelSelector: string };
  /** Bounded parallel requests, e.g. 16. */
  concurrency: number;
  /** Overwrite a same-named dockerconfigjson Secret that is not labelled as ours. */
  adoptUnmanaged: boolean;
  /** Compute and report every write, write nothing. */
  dryRun: boolean;
}

/**
 * `eso-managed`: External Secrets Operator owns the Secret; it is not written, its ExternalSecret
 * is asked to re-sync. `conflict`: a foreign Secret of that name (or another type) — reported,
 * never written, not a failure. `skipped`: the namespace cannot take writes (terminating), or
 * the deadline came first (reason `deadline`, which does fail the run).
 */
export type NamespaceOutcome = "created" | "updated" | "unchanged" | "eso-managed" | "conflict" | "failed" | "skipped";

export interface NamespaceResult {
  namespace: string;
  outcome: NamespaceOutcome;
  /** Why (conflict, failed, skipped), or a remark (adopted, replaced invalid content). No secrets. */
  reason?: string;
  /** ServiceAccounts given the pull secret (or that would be, in a dry run). */
  serviceAccountsPatched?: string[];
  /** Requested ServiceAccounts that do not exist in this namespace (reported, not created). */
  serviceAccountsMissing?: string[];
  serviceAccountsFailed?: Array<{ name: string; reason: string }>;
  /** Dry run: a write would have been made for this namespace. */
  wouldWrite?: boolean;
  /** Attempts the Secret write took (only when > 1). */
  attempts?: number;
  /** `eso-managed`: the ExternalSecret that owns the Secret (`namespace/name`), when known. */
  externalSecret?: string;
}

export interface ClusterApplyResult {
  cluster: string;
  dryRun: boolean;
  pullSecretName: string;
  /** One entry per target namespace, sorted by name. */
  namespaces: NamespaceResult[];
  counts: Record<NamespaceOutcome, number>;
  serviceAccounts: {
    /** `namespace/name` */
    patched: string[];
    unchanged: number;
    missing: string[];
    failed: Array<{ serviceAccount: string; reason: string }>;
  };
  externalSecrets: {
    /** ESO_RESYNC is configured (ExternalSecrets owning an ESO-managed pull secret are re-synced regardless). */
    enabled: boolean;
    /** `namespace/name` of ExternalSecrets annotated (or that would be). */
    resynced: string[];
    failed: Array<{ externalSecret: string; reason: string }>;
  };
  /** Cluster-level problems (e.g. the namespace LIST failed). */
  errors: string[];
  /** Work the invocation's deadline cut or never let start (namespaces, LISTs, re-syncs). */
  deadlineReached: boolean;
  /** What the writes mean for running pods, and any degraded mode used. */
  notes: string[];
  /** Kubernetes API requests made (including retries). */
  requests: number;
  durationMs: number;
  /**
   * No failed namespace, ServiceAccount, ExternalSecret, no cluster-level error, and the deadline
   * cut nothing. A `conflict` does not make it false (retrying cannot change it).
   */
  ok: boolean;
}

export interface ApplyDeps {
  now?: () => Date;
  /**
   * The API to use (the caller then closes it). Default: the node:https adapter of
   * ./http-client for `connection`. For `@kubernetes/client-node`, pass
   * `await (await import("./client")).createKubeApi(connection)`: this module never references
   * ./client, so no bundle of it carries client-node.
   */
  api?: KubeApi;
  onProgress?: (done: number, total: number) => void;
  retry?: Partial<RetryPolicy>;
  /** For tests: replaces the backoff sleep. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Page size of the cluster-wide LISTs of namespaces, ServiceAccounts, ExternalSecrets (default 500). */
  pageSize?: number;
  /**
   * Page size of the cluster-wide Secret LIST (default 200): each pull secret carries ~8 KB of
   * docker config with real ECR tokens, so a 500-item page alone costs ~20 MB of transient memory.
   */
  secretPageSize?: number;
  /**
   * The invocation's deadline: no namespace, LIST page or retry starts after it (those left are
   * reported `skipped`, reason `deadline`). The API passed in bounds each request by it too.
   */
  deadline?: Deadline;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks a target before anything is sent; throws a precise message. */
export function validateTarget(target: ClusterTarget, logins: readonly RegistryLogin[]): void {
  if (logins.length === 0) throw new Error("no registry logins to apply");
  if (!DNS_SUBDOMAIN.test(target.pullSecretName) || target.pullSecretName.length > 253) {
    throw new Error(`invalid pull secret name "${target.pullSecretName}" (must be a DNS subdomain)`);
  }
  for (const sa of target.patchServiceAccounts) {
    if (!DNS_SUBDOMAIN.test(sa) || sa.length > 253) throw new Error(`invalid ServiceAccount name "${sa}"`);
  }
  if (!Number.isInteger(target.concurrency) || target.concurrency < 1 || target.concurrency > 256) {
    throw new Error(`concurrency must be an integer from 1 to 256, got ${target.concurrency}`);
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

/** Wraps every method of the API with a request counter. */
function counted(api: KubeApi, counter: { n: number }): KubeApi {
  return new Proxy(api, {
    get(targetApi, prop, receiver) {
      const value = Reflect.get(targetApi, prop, receiver) as unknown;
      if (typeof value !== "function" || prop === "close") return value;
      return (...args: unknown[]) => {
        counter.n++;
        return (value as (...a: unknown[]) => unknown).apply(targetApi, args);
      };
    },
  });
}

/** Everything one cluster's apply shares: the API, the target, the logins, the retry policy, the result being built. */
interface ApplyContext {
  api: KubeApi;
  target: ClusterTarget;
  logins: RegistryLogin[];
  deps: ApplyDeps;
  policy: RetryPolicy;
  hooks: RetryHooks;
  /** Paging of the namespace, ServiceAccount and ExternalSecret LISTs. */
  paging: Paging;
  /** Paging of the Secret LIST (smaller pages: pull secrets are large). */
  secretPaging: Paging;
  result: ClusterApplyResult;
  /** Secret values scrubbed from every reason. */
  secrets: readonly string[];
  describe: (error: unknown, verb: KubeVerb, resource: KubeResource, namespace?: string) => string;
  /** Namespaces whose Secret has no foreign entries share one encoded docker config string. */
  encode: (merged: DockerConfig, foreign: DockerConfig | undefined) => string;
}

/** What the cluster-wide LISTs found: the namespaces to write to, and the objects already there. */
interface ClusterState {
  selected: string[];
  /** Pull secret summaries by namespace; undefined when the LIST failed (then each is read). */
  knownSecrets: Map<string, SecretSummary> | undefined;
  /** ServiceAccount name → namespace → object; a name is absent when its LIST failed. */
  knownSAs: Map<string, Map<string, KubeServiceAccount>>;
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
    if (!deps.api) {
      // Direct callers (tests, bench) without an API get the node:https adapter; the run's
      // Kubernetes step always passes the API it opened (kube/open.ts).
      const { createHttpKubeApi } = await import("./http-client");
      ownedApi = createHttpKubeApi(connection, { maxSockets: target.concurrency, ...(deps.deadline ? { deadline: deps.deadline } : {}) });
    }
    const ctx = applyContext(counted(deps.api ?? ownedApi!, counter), target, logins, deps, result, secrets);
    // 1–3. The cluster-wide LISTs.
    const state = await listClusterState(ctx);
    if (state === undefined) return result;
    // 4. One task per namespace, bounded concurrency.
    await applyNamespaces(ctx, state);
    // 5. ESO re-sync: the owners of ESO-managed pull secrets (always), and ESO_RESYNC's selection.
    await resyncExternalSecrets(ctx, state);
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
    deadlineReached: false,
    notes: [],
    requests: 0,
    durationMs: 0,
    ok: false,
  };
}

function applyContext(api: KubeApi, target: ClusterTarget, logins: RegistryLogin[], deps: ApplyDeps, result: ClusterApplyResult, secrets: readonly string[]): ApplyContext {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const hooks: RetryHooks = { sleep: deps.sleep, random: deps.random, ...(deps.deadline ? { deadline: deps.deadline } : {}) };
  const encoded = new Map<string, string>();
  return {
    api,
    target,
    logins,
    deps,
    policy,
    hooks,
    paging: { limit: deps.pageSize ?? LIST_PAGE_SIZE, policy, hooks },
    secretPaging: { limit: deps.secretPageSize ?? deps.pageSize ?? SECRET_LIST_PAGE_SIZE, policy, hooks },
    result,
    secrets,
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
const settle = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ value }), (error: unknown) => ({ error }));

/** The namespaces the target's mode lets the API server filter (label selector), reduced on arrival. */
async function listNamespaces(ctx: ApplyContext): Promise<KubeNamespace[]> {
  const nsTarget = ctx.target.namespaces;
  const namespaces: KubeNamespace[] = [];
  const options = nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {};
  await forEachListed((o) => ctx.api.listNamespaces(o), options, (n) => void namespaces.push(reducedNamespace(n)), ctx.paging);
  return namespaces;
}

/** The pull secrets, by namespace (fieldSelector by name), each summarised on arrival — no docker config content is kept. */
async function listPullSecrets(ctx: ApplyContext): Promise<Map<string, SecretSummary>> {
  const name = ctx.target.pullSecretName;
  const found = new Map<string, SecretSummary>();
  await forEachListed(
    (o) => ctx.api.listSecrets(o),
    { fieldSelector: `metadata.name=${name}` },
    (s) => {
      const ns = s.metadata.namespace;
      if (ns && s.metadata.name === name) found.set(ns, summarizeSecret(s, ctx.logins));
    },
    ctx.secretPaging,
  );
  return found;
}

/** The ServiceAccounts named `sa`, by namespace. */
async function listServiceAccounts(ctx: ApplyContext, sa: string): Promise<Map<string, KubeServiceAccount>> {
  const byNs = new Map<string, KubeServiceAccount>();
  await forEachListed((o) => ctx.api.listServiceAccounts(o), { fieldSelector: `metadata.name=${sa}` }, (item) => {
    if (item.metadata.namespace && item.metadata.name === sa) byNs.set(item.metadata.namespace, item);
  }, ctx.paging);
  return byNs;
}

/**
 * 1–3. The cluster-wide LISTs run concurrently: namespaces; the pull secrets; one LIST per
 * ServiceAccount name. A forbidden Secret/SA list falls back to one GET per namespace.
 * Returns undefined (with the error recorded) when the namespaces cannot be known.
 */
async function listClusterState(ctx: ApplyContext): Promise<ClusterState | undefined> {
  const { target, result, describe } = ctx;
  const nsTarget = target.namespaces;
  const [listedNamespaces, listedSecrets, ...listedSAs] = await Promise.all([
    settle(listNamespaces(ctx)),
    settle(listPullSecrets(ctx)),
    ...target.patchServiceAccounts.map((sa) => settle(listServiceAccounts(ctx, sa))),
  ]);

  let selection;
  if ("value" in listedNamespaces) selection = selectNamespaces(nsTarget, listedNamespaces.value);
  else if (isDeadlineExceeded(listedNamespaces.error)) {
    result.deadlineReached = true;
    if (nsTarget.mode === "list") {
      for (const ns of [...new Set(nsTarget.names)].sort()) result.namespaces.push({ namespace: ns, outcome: "skipped", reason: DEADLINE_REASON });
    }
    result.errors.push(`skipped: ${DEADLINE_REASON} (the namespaces could not be listed before the invocation's deadline)`);
    return undefined;
  } else if (nsTarget.mode === "list" && classify(listedNamespaces.error).kind === "forbidden") {
    // Without list on namespaces, an explicit list can still be applied; a missing namespace
    // then shows up as a 404 on its write.
    result.notes.push(`cannot list namespaces (${describe(listedNamespaces.error, "list", "namespaces")}); applying to the configured names unchecked`);
    selection = { selected: [...new Set(nsTarget.names)].sort(), missing: [], skipped: [] };
  } else {
    result.errors.push(`listing namespaces failed: ${describe(listedNamespaces.error, "list", "namespaces")}`);
    return undefined;
  }
  const selected = selection.selected;
  for (const ns of selection.missing) result.namespaces.push({ namespace: ns, outcome: "failed", reason: `namespace ${ns} not found` });
  for (const s of selection.skipped) result.namespaces.push({ namespace: s.namespace, outcome: "skipped", reason: s.reason });

  let knownSecrets: Map<string, SecretSummary> | undefined;
  if ("value" in listedSecrets) knownSecrets = listedSecrets.value;
  else if (isDeadlineExceeded(listedSecrets.error)) knownSecrets = undefined; // every namespace then meets the deadline itself
  else if (selected.length > 0) {
    result.notes.push(`cluster-wide list of secrets failed (${describe(listedSecrets.error, "list", "secrets")}); reading each namespace's secret instead`);
  }
  const knownSAs = new Map<string, Map<string, KubeServiceAccount>>();
  target.patchServiceAccounts.forEach((sa, i) => {
    const listed = listedSAs[i]!;
    if ("value" in listed) knownSAs.set(sa, listed.value);
    else if (selected.length > 0) {
      result.notes.push(`cluster-wide list of serviceaccounts "${sa}" failed (${describe(listed.error, "list", "serviceaccounts")}); reading each namespace's instead`);
    }
  });
  return { selected, knownSecrets, knownSAs };
}

/** 4. Applies every selected namespace (bounded concurrency), then sorts all namespace rows by name. */
async function applyNamespaces(ctx: ApplyContext, state: ClusterState): Promise<void> {
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
    return { namespace, outcome: "skipped", reason: DEADLINE_REASON };
  }
  const progress: WriteProgress = { verb: "get", attempts: 0 };
  try {
    await writePullSecret(ctx, state, namespace, progress);
    recordSecretOutcome(r, progress, ctx.target.dryRun);
  } catch (error) {
    if (isDeadlineExceeded(error)) {
      ctx.result.deadlineReached = true;
      r.outcome = "skipped";
      // A write in flight when the deadline came may have been applied: say so.
      r.reason = progress.verb === "get" ? DEADLINE_REASON : `${DEADLINE_REASON} (cut during ${progress.verb}: the write may have been applied)`;
      return r;
    }
    r.outcome = "failed";
    r.reason = ctx.describe(error, progress.verb, "secrets", namespace);
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
  let mustRead = state.knownSecrets === undefined;
  const noteLost = (error: unknown, what: "created" | "updated"): never => {
    if (error instanceof KubeApiError && error.status === 0) progress.lostWrite ??= what;
    throw error;
  };
  const decide = () => decideSecret({ namespace, name, existing, logins, adoptUnmanaged: target.adoptUnmanaged, encode });
  await withRetry(
    async (attempt) => {
      progress.attempts = attempt;
      if (mustRead) {
        progress.verb = "get";
        const fresh = await api.readSecret(namespace, name);
        existing = fresh ? summarizeSecret(fresh, logins) : undefined;
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
    { ...ctx.hooks, onConflict: async () => void (mustRead = true) },
  );
}

/** The namespace row's outcome and remark from the final decision. */
function recordSecretOutcome(r: NamespaceResult, progress: WriteProgress, dryRun: boolean): void {
  const d = progress.decision!;
  const lostWrite = progress.lostWrite;
  if (d.action === "create") r.outcome = "created";
  else if (d.action === "update") {
    r.outcome = "updated";
    const remarks = [d.adopted ? "adopted an unmanaged Secret" : "", d.replacedInvalid ? "replaced content that was not a valid docker config" : ""].filter(Boolean);
    if (remarks.length) r.reason = remarks.join("; ");
  } else if (d.action === "unchanged") {
    r.outcome = lostWrite ?? "unchanged";
    if (lostWrite) r.reason = "the response to the write was lost; a re-read confirmed it was applied";
  } else if (d.action === "eso-managed") {
    r.outcome = "eso-managed";
    r.reason = d.owner ? `owned by ExternalSecret ${r.namespace}/${d.owner}: not written` : `labelled ${ESO_MANAGED_LABEL}=true by External Secrets Operator: not written`;
    if (d.owner) r.externalSecret = `${r.namespace}/${d.owner}`;
  } else {
    r.outcome = "conflict";
    r.reason = d.reason;
  }
  if (dryRun) r.wouldWrite = d.action === "create" || d.action === "update";
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
      const outcome = await withRetry(
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
          return d.action;
        },
        ctx.policy,
        { ...ctx.hooks, onConflict: async () => void (mustRead = true) },
      );
      if (outcome === "patch") {
        (r.serviceAccountsPatched ??= []).push(saName);
        if (target.dryRun) r.wouldWrite = true;
      } else if (outcome === "missing") (r.serviceAccountsMissing ??= []).push(saName);
      else ctx.result.serviceAccounts.unchanged++;
    } catch (error) {
      (r.serviceAccountsFailed ??= []).push({ name: saName, reason: ctx.describe(error, verb, "serviceaccounts", namespace) });
    }
  }
}

/**
 * 5. Annotates ExternalSecrets with `force-sync`: those that own an ESO-managed pull secret in a
 * target namespace (always: the heal's fix there is ESO's re-sync), and, with ESO_RESYNC, those
 * matching its label selector in the target namespaces. Each is patched once.
 */
async function resyncExternalSecrets(ctx: ApplyContext, state: ClusterState): Promise<void> {
  const { api, target, result } = ctx;
  const esoRows = result.namespaces.filter((n) => n.outcome === "eso-managed");
  const wanted = new Map<string, { namespace: string; name: string; rows: NamespaceResult[] }>();
  const want = (namespace: string, name: string, row?: NamespaceResult) => {
    const id = `${namespace}/${name}`;
    const entry = wanted.get(id) ?? { namespace, name, rows: [] };
    if (row) entry.rows.push(row);
    wanted.set(id, entry);
  };
  for (const row of esoRows) if (row.externalSecret) want(row.namespace, row.externalSecret.slice(row.namespace.length + 1), row);

  // Pull secrets ESO manages by label only (no owner reference) and ESO_RESYNC's selection
  // need the ExternalSecrets listed.
  const unowned = esoRows.filter((row) => !row.externalSecret);
  const selector = target.esoResync?.labelSelector;
  if ((selector !== undefined && state.selected.length > 0) || unowned.length > 0) {
    const selected = new Set(state.selected);
    try {
      const listed: KubeExternalSecret[] = [];
      // Label-only rows need every ExternalSecret (which one writes the Secret is in its spec).
      await forEachListed((o) => api.listExternalSecrets(o), unowned.length > 0 ? {} : { labelSelector: selector! }, (es) => void listed.push(es), ctx.paging);
      const matchesSelector = selector === undefined ? () => false : (() => {
        const requirements = parseLabelSelector(selector);
        return (es: KubeExternalSecret) => matchesLabelSelector(requirements, es.metadata.labels ?? {});
      })();
      for (const es of listed) {
        const ns = es.metadata.namespace;
        if (!ns || !selected.has(ns)) continue;
        const writes = es.spec?.target?.name || es.metadata.name;
        const owning = unowned.filter((row) => row.namespace === ns && writes === target.pullSecretName);
        if (owning.length > 0 || matchesSelector(es)) want(ns, es.metadata.name);
        for (const row of owning) {
          row.externalSecret = `${ns}/${es.metadata.name}`;
          wanted.get(row.externalSecret)!.rows.push(row);
        }
      }
      for (const row of unowned) if (!row.externalSecret) row.reason += "; no ExternalSecret in the namespace writes it, so none was re-synced";
    } catch (error) {
      if (isDeadlineExceeded(error)) result.deadlineReached = true;
      const why =
        error instanceof KubeApiError && error.status === 404
          ? "the ExternalSecret API (external-secrets.io/v1) is not served by this cluster (ESO not installed?)"
          : ctx.describe(error, "list", "externalsecrets");
      result.externalSecrets.failed.push({ externalSecret: "*", reason: `listing ExternalSecrets failed: ${why}` });
    }
  }

  const patch = forceSyncPatch((ctx.deps.now ?? (() => new Date()))());
  await pool([...wanted.entries()], target.concurrency, async ([id, es]) => {
    try {
      if (!target.dryRun) {
        ctx.deps.deadline?.check("an ExternalSecret re-sync");
        await withRetry(() => api.patchExternalSecret(es.namespace, es.name, patch), ctx.policy, ctx.hooks);
      }
      result.externalSecrets.resynced.push(id);
      for (const row of es.rows) row.reason += target.dryRun ? `; ExternalSecret ${id} would be re-synced (force-sync)` : `; ExternalSecret ${id} re-synced (force-sync)`;
    } catch (error) {
      if (isDeadlineExceeded(error)) result.deadlineReached = true;
      const reason = ctx.describe(error, "patch", "externalsecrets", es.namespace);
      result.externalSecrets.failed.push({ externalSecret: id, reason });
      for (const row of es.rows) row.reason += `; re-sync of ExternalSecret ${id} failed: ${reason}`;
    }
  });
  result.externalSecrets.resynced.sort();
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
    result.notes.push(`${result.counts.created} pull secret(s) ${verbPrefix}created: pods reference them through imagePullSecrets (their own or their ServiceAccount's)`);
  }
  if (result.serviceAccounts.patched.length > 0) {
    result.notes.push(
      `${result.serviceAccounts.patched.length} ServiceAccount(s) ${verbPrefix}patched: only pods created from now on get the imagePullSecret; existing pods without it must be recreated`,
    );
  }
}

/**
 * A one-line, secret-free reason: the HTTP status, the missing permission for a 403 (verb,
 * resource, namespace), and the API server's Status message scrubbed.
 */
export function describeFailure(error: unknown, verb: KubeVerb, resource: KubeResource, namespace: string | undefined, secrets: readonly string[]): string {
  const where = namespace ? ` in namespace "${namespace}"` : " cluster-wide";
  if (isDeadlineExceeded(error)) return `${DEADLINE_REASON}: ${verb} ${resource}${where} not done before the invocation's deadline`;
  if (error instanceof KubeApiError) {
    const message = error.message ? scrub(error.message, secrets) : "";
    const suffix = message ? `: ${message}` : "";
    switch (error.status) {
      case 0:
        return `network error (${error.details.networkCode ?? "connection failed"}) on ${verb} ${resource}${where}, retries exhausted`;
      case 401:
        return `unauthorized (401): the bearer token was rejected on ${verb} ${resource}${where}`;
      case 403:
        return `forbidden (403): missing RBAC permission "${verb}" on "${resource}"${where}${suffix}`;
      case 404:
        return namespace && (verb === "create" || verb === "patch") && /namespaces? "?[^"\s]*"? not found/.test(message)
          ? `namespace ${namespace} not found`
          : `not found (404) on ${verb} ${resource}${where}${suffix}`;
      case 409:
        return `conflict (409) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      case 429:
        return `throttled (429) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      default:
        return `HTTP ${error.status} on ${verb} ${resource}${where}${error.status >= 500 ? ", retries exhausted" : ""}${suffix}`;
    }
  }
  const code = classify(error).kind === "network" ? " (network error, retries exhausted)" : "";
  const text = error instanceof Error ? error.message : String(error);
  return `${verb} ${resource}${where} failed${code}: ${scrub(text, secrets)}`;
}
