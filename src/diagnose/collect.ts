/**
 * Reads what a diagnosis needs from one cluster, read-only, with a bounded number of requests:
 * one paginated LIST of namespaces, one of pods (cluster-wide), one of `Failed` pod Events, then
 * one GET per distinct referenced Secret of the stuck pods, one LIST of ServiceAccounts per
 * namespace where a stuck pod has no imagePullSecrets, and one cluster-wide LIST by field
 * selector per distinct missing Secret name (where does a Secret of that name exist?).
 * Each Secret is reduced on arrival (hosts, user names, embedded ECR expiry): no password,
 * `auth` or docker config survives this module. RBAC: get/list on pods, events, secrets,
 * serviceaccounts, namespaces — nothing else.
 */
import { credentialsOfEntry, parseDockerConfig, type DockerConfigEntry } from "../formats/dockerconfig";
import { expiryEmbeddedInPassword } from "../formats/ecr-token";
import { scrub } from "../shared/redact-text";
import { errorInWaitingMessage, isPullErrorEvent, quoteKubeletMessage } from "./message";
import { classify as classifyFailure, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from "../kube/retry";
import { LARGE_LIST_PAGE_SIZE, LIST_PAGE_SIZE } from "../shared/names";
import { counted, forEachListed, pool, reducedNamespace, type Paging } from "../kube/paging";
import { selectNamespaces, type NamespaceTarget } from "../kube/namespaces";
import {
  KubeApiError,
  type KubeApi,
  type KubeNamespace,
  type KubePod,
  type KubeSecret,
  type KubeServiceAccount,
  type ListOptions,
  type ListPage,
} from "../kube/types";
import { causeFromKubelet, classifyStuckContainer, type ReducedEntry, type ReducedSecret } from "./classify";
import type { CauseCode, CauseSummary, ClusterDiagnosis, StuckContainer, StuckContainerReport } from "../report/report";

/** Waiting reasons of a container stuck on its image (Container Insights counts the same three). */
export const STUCK_REASONS: readonly string[] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/** Stuck containers listed at most (see DiagnoseDeps.maxStuck). */
const MAX_STUCK = 500;
/** Parallel reads of Secrets and ServiceAccount lists. */
const READ_CONCURRENCY = 8;

export interface DiagnoseTarget {
  namespaces: NamespaceTarget;
  /** Registry hosts this deployment keeps fresh. */
  configuredHosts: string[];
  /** The pull secret the product writes. */
  pullSecretName: string;
}

export interface DiagnoseDeps {
  api: KubeApi;
  now?: () => Date;
  pageSize?: number;
  /**
   * Page size of the pod LIST (default 200): a pod object is several KB of JSON, and a page is
   * parsed whole — 200 keeps a page to a few MB inside the Lambda's 128 MB.
   */
  podPageSize?: number;
  /**
   * At most this many stuck containers are listed in the report (default 500: a row is ~1–2 KB,
   * and a Lambda response is at most 6 MB); every one is classified and counted by cause.
   */
  maxStuck?: number;
  /** Parallel reads. Default 8. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
}

/** A Secret reduced to what a diagnosis needs; its credential material is dropped here. */
export function reduceSecret(name: string, secret: KubeSecret | undefined): ReducedSecret {
  if (secret === undefined) return { name, exists: false, entries: [] };
  const type = secret.type ?? "Opaque";
  const reduced: ReducedSecret = { name, exists: true, type, entries: [] };
  const key = type === "kubernetes.io/dockercfg" ? ".dockercfg" : type === "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson" : undefined;
  if (key === undefined) return reduced;
  const raw = secret.data?.[key];
  if (raw === undefined) {
    reduced.invalid = `no ${key} key`;
    return reduced;
  }
  let auths: Record<string, DockerConfigEntry>;
  try {
    const text = Buffer.from(raw, "base64").toString("utf8");
    if (key === ".dockercfg") {
      const value: unknown = JSON.parse(text);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("the docker config is not a JSON object");
      auths = value as Record<string, DockerConfigEntry>;
    } else auths = parseDockerConfig(text).auths;
  } catch (error) {
    // parseDockerConfig's messages never carry content; JSON.parse's might: use a fixed text.
    reduced.invalid = error instanceof SyntaxError ? "the docker config is not valid JSON" : (error as Error).message;
    return reduced;
  }
  for (const [host, entry] of Object.entries(auths)) {
    const out: ReducedEntry = { key: host };
    if (typeof entry === "object" && entry !== null) {
      const creds = credentialsOfEntry(entry);
      if (creds) {
        out.username = creds.username;
        const expiresAt = expiryEmbeddedInPassword(creds.password);
        if (expiresAt) out.expiresAt = expiresAt;
      }
    }
    reduced.entries.push(out);
  }
  return reduced;
}

/** A stuck container as read from its pod: the report's fields plus what classification needs. */
interface Stuck extends StuckContainer {
  uid?: string;
  serviceAccountName?: string;
  pullSecrets: string[];
  /** The pull error carried by the waiting message, if any. */
  detail?: string;
}

/** The stuck containers of one pod (init containers included). */
export function stuckContainersOf(pod: KubePod): Stuck[] {
  const out: Stuck[] = [];
  const specImages = new Map<string, string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) if (c.image) specImages.set(c.name, c.image);
  const pullSecrets = [...new Set((pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? "").filter((n) => n !== ""))];
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (!waiting?.reason || !STUCK_REASONS.includes(waiting.reason)) continue;
    const detail = errorInWaitingMessage(waiting.message);
    out.push({
      namespace: pod.metadata.namespace ?? "",
      pod: pod.metadata.name,
      ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
      container: status.name,
      image: specImages.get(status.name) ?? status.image ?? "",
      reason: waiting.reason,
      ...(waiting.message ? { message: waiting.message } : {}),
      ...(detail ? { detail } : {}),
      ...(pod.spec?.serviceAccountName ? { serviceAccountName: pod.spec.serviceAccountName } : {}),
      pullSecrets,
    });
  }
  return out;
}

const describe = (error: unknown, what: string): string => {
  if (error instanceof KubeApiError) {
    const kind = classifyFailure(error).kind;
    return `${what}: ${error.status === 0 ? `network error ${error.details.networkCode ?? ""}`.trim() : `${error.status}${error.message ? ` ${scrub(error.message)}` : ""}`} (${kind})`;
  }
  return `${what}: ${scrub(error instanceof Error ? error.message : String(error))}`;
};

/** What one diagnosis shares: the API (requests counted), paging, retries, and the diagnosis being built. */
interface DiagnoseContext {
  target: DiagnoseTarget;
  deps: DiagnoseDeps;
  api: KubeApi;
  now: Date;
  paging: Paging;
  diagnosis: ClusterDiagnosis & { errors: string[] };
  /** A GET, retried and counted. */
  get: <T>(read: () => Promise<T>) => Promise<T>;
}

/** Finds every container stuck pulling its image in the target namespaces, and says why. */
export async function diagnoseCluster(target: DiagnoseTarget, deps: DiagnoseDeps): Promise<ClusterDiagnosis> {
  const started = Date.now();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const hooks = deps.sleep ? { sleep: deps.sleep } : {};
  const counter = { n: 0 };
  const api = counted(deps.api, counter);
  const ctx: DiagnoseContext = {
    target,
    deps,
    api,
    now: (deps.now ?? (() => new Date()))(),
    paging: { limit: deps.pageSize ?? LIST_PAGE_SIZE, policy, hooks },
    diagnosis: { podsScanned: 0, stuck: [], errors: [] },
    get: (read) => withRetry(() => read(), policy, hooks),
  };
  const inScope = await namespacesInScope(ctx);
  const stuck = await listStuckContainers(ctx, inScope);
  if (stuck.length > 0) {
    stuck.sort((a, b) => `${a.namespace}/${a.pod}/${a.container}`.localeCompare(`${b.namespace}/${b.pod}/${b.container}`));
    const errorsByContainer = await pullErrorEvents(ctx, stuck);
    const refs = await readReferences(ctx, stuck, errorsByContainer);
    const elsewhere = await secretsElsewhere(ctx, refs);
    classifyAll(ctx, stuck, errorsByContainer, refs, elsewhere);
  }
  const diagnosis: ClusterDiagnosis = ctx.diagnosis;
  diagnosis.requests = counter.n;
  diagnosis.durationMs = Date.now() - started;
  if (diagnosis.errors!.length === 0) delete diagnosis.errors;
  return diagnosis;
}

/** Namespaces in scope: the selected ones and the skipped ones (a skipped namespace's pods are still diagnosed). */
async function namespacesInScope(ctx: DiagnoseContext): Promise<Set<string>> {
  const namespaces: KubeNamespace[] = [];
  const nsTarget = ctx.target.namespaces;
  await forEachListed(
    (o) => ctx.api.listNamespaces(o),
    nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {},
    (n) => void namespaces.push(reducedNamespace(n)),
    ctx.paging,
  );
  const selection = selectNamespaces(nsTarget, namespaces);
  return new Set([...selection.selected, ...selection.skipped.map((s) => s.namespace)]);
}

/** Every stuck container (pods are reduced on arrival; finished pods are filtered by the server). */
async function listStuckContainers(ctx: DiagnoseContext, inScope: ReadonlySet<string>): Promise<Stuck[]> {
  const stuck: Stuck[] = [];
  const paging = { ...ctx.paging, limit: ctx.deps.podPageSize ?? ctx.deps.pageSize ?? LARGE_LIST_PAGE_SIZE };
  await forEachListed(
    (o) => ctx.api.listPods(o),
    { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" },
    (pod) => {
      if (!inScope.has(pod.metadata.namespace ?? "")) return;
      ctx.diagnosis.podsScanned++;
      stuck.push(...stuckContainersOf(pod));
    },
    paging,
  );
  return stuck;
}

const containerKey = (namespace: string, pod: string, container: string) => `${namespace}/${pod}/${container}`;
/** `spec.containers{app}`, `spec.initContainers{init}` → the container's name. */
const CONTAINER_FIELD = /^spec\.(?:initContainers|containers|ephemeralContainers)\{(.+)\}$/;

/**
 * The kubelet's detailed pull error per stuck container: the newest `Failed` event about that
 * container (involvedObject.fieldPath) whose message is the error itself — the kubelet follows it
 * with `Error: ErrImagePull` / `Error: ImagePullBackOff`, which carry none. An event of an
 * earlier pod of the same name (another uid) is ignored; one without a fieldPath counts for
 * every container of its pod.
 */
async function pullErrorEvents(ctx: DiagnoseContext, stuck: readonly Stuck[]): Promise<Map<string, string>> {
  const uids = new Map<string, string | undefined>();
  for (const s of stuck) uids.set(`${s.namespace}/${s.pod}`, s.uid);
  const newest = new Map<string, { at: string; message: string }>();
  try {
    await forEachListed(
      (o) => ctx.api.listEvents(o),
      { fieldSelector: "involvedObject.kind=Pod,reason=Failed" },
      (e) => {
        const namespace = e.involvedObject?.namespace ?? e.metadata.namespace ?? "";
        const pod = e.involvedObject?.name ?? "";
        const podKey = `${namespace}/${pod}`;
        if (!uids.has(podKey) || !isPullErrorEvent(e.message)) return;
        const uid = uids.get(podKey);
        if (uid && e.involvedObject?.uid && e.involvedObject.uid !== uid) return;
        const container = CONTAINER_FIELD.exec(e.involvedObject?.fieldPath ?? "")?.[1];
        const key = container === undefined ? `${podKey}/*` : containerKey(namespace, pod, container);
        const at = e.lastTimestamp ?? e.eventTime ?? "";
        const seen = newest.get(key);
        if (!seen || at >= seen.at) newest.set(key, { at, message: e.message! });
      },
      ctx.paging,
    );
  } catch (error) {
    ctx.diagnosis.errors.push(describe(error, "events could not be listed"));
  }
  const out = new Map<string, string>();
  for (const s of stuck) {
    const own = newest.get(containerKey(s.namespace, s.pod, s.container));
    const podWide = newest.get(`${s.namespace}/${s.pod}/*`);
    const pick = own && podWide ? (podWide.at > own.at ? podWide : own) : (own ?? podWide);
    if (pick) out.set(containerKey(s.namespace, s.pod, s.container), pick.message);
  }
  return out;
}

type ReadSecrets = Map<string, ReducedSecret | { error: string }>;
interface References {
  /** `namespace/name` → the SA's imagePullSecrets (SAs of the namespaces read; absent: not found). */
  serviceAccounts: Map<string, string[]>;
  /** Per namespace read: its ServiceAccounts that carry pull secrets (for the trap's fix). */
  saNamespaces: Map<string, Array<{ name: string; pullSecrets: string[] }> | { error: string }>;
  secrets: ReadSecrets;
  /** Per Secret name listed cluster-wide: every namespace that has a Secret of that name. */
  listedNames: Map<string, string[]>;
}

const split = (key: string) => {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)] as const;
};

/**
 * From this many namespaces on, one cluster-wide LIST (a few pages) replaces the per-namespace
 * reads: of a Secret name (by field selector), of ServiceAccounts. At incident scale (hundreds
 * of namespaces with the same broken pull secret) that is 2–3 requests instead of hundreds.
 */
const LIST_FROM = 32;
/** Page size of cluster-wide Secret LISTs (a pull Secret with an ECR token is ~3.5 KB). */
const SECRET_PAGE_SIZE = 250;

/**
 * The referenced Secrets and, for pods without imagePullSecrets, their namespaces'
 * ServiceAccounts. Per Secret name: one GET per namespace, or — from LIST_FROM namespaces on —
 * one cluster-wide LIST by `fieldSelector=metadata.name=NAME` (each item reduced on arrival, the
 * other namespaces' copies dropped; a failed LIST falls back to the GETs). ServiceAccounts: one
 * LIST per namespace, or one cluster-wide LIST from LIST_FROM namespaces on. `concurrency` at a time.
 */
async function readReferences(ctx: DiagnoseContext, stuck: readonly Stuck[], errors: Map<string, string>): Promise<References> {
  const refs: References = { serviceAccounts: new Map(), saNamespaces: new Map(), secrets: new Map(), listedNames: new Map() };
  // A pod without imagePullSecrets needs its namespace's ServiceAccounts, unless the kubelet's
  // error already names a cause no ServiceAccount changes (no such host, rate limited, …).
  const saNamespaces = [...new Set(stuck.filter((s) => s.pullSecrets.length === 0 && !explainedByKubelet(ctx, s, errors)).map((s) => s.namespace))];
  const byName = new Map<string, Set<string>>();
  for (const s of stuck) for (const name of s.pullSecrets) byName.set(name, (byName.get(name) ?? new Set()).add(s.namespace));
  const gets: string[] = [];
  const lists: string[] = [];
  for (const [name, namespaces] of byName) {
    if (namespaces.size >= LIST_FROM) lists.push(name);
    else for (const ns of namespaces) gets.push(`${ns}/${name}`);
  }
  const work: Array<() => Promise<void>> = [
    ...lists.map((name) => async () => {
      const fallback = await listSecretsNamed(ctx, name, byName.get(name)!, refs);
      await pool(fallback, ctx.deps.concurrency ?? READ_CONCURRENCY, (key) => getSecret(ctx, key, refs));
    }),
    ...(saNamespaces.length >= LIST_FROM
      ? [() => listServiceAccounts(ctx, (o) => ctx.api.listServiceAccounts(o), new Set(saNamespaces), refs)]
      : saNamespaces.map((ns) => () => listServiceAccounts(ctx, (o) => ctx.api.listNamespacedServiceAccounts(ns, o), new Set([ns]), refs))),
    ...gets.map((key) => () => getSecret(ctx, key, refs)),
  ];
  await pool(work, ctx.deps.concurrency ?? READ_CONCURRENCY, (w) => w());
  return refs;
}

async function getSecret(ctx: DiagnoseContext, key: string, refs: References): Promise<void> {
  const [ns, name] = split(key);
  try {
    refs.secrets.set(key, reduceSecret(name, await ctx.get(() => ctx.api.readSecret(ns, name))));
  } catch (error) {
    const message = describe(error, `Secret ${key} could not be read`);
    refs.secrets.set(key, { error: message });
    ctx.diagnosis.errors.push(message);
  }
}

/** One cluster-wide LIST of the Secrets named `name`; returns the keys to GET instead when it fails. */
async function listSecretsNamed(ctx: DiagnoseContext, name: string, needed: ReadonlySet<string>, refs: References): Promise<string[]> {
  const found = new Map<string, ReducedSecret>();
  const everywhere: string[] = [];
  try {
    await forEachListed(
      (o) => ctx.api.listSecrets(o),
      { fieldSelector: `metadata.name=${name}` },
      (secret) => {
        const ns = secret.metadata.namespace ?? "";
        everywhere.push(ns);
        if (needed.has(ns)) found.set(ns, reduceSecret(name, secret));
      },
      { ...ctx.paging, limit: Math.min(ctx.paging.limit, SECRET_PAGE_SIZE) },
    );
  } catch {
    return [...needed].map((ns) => `${ns}/${name}`);
  }
  for (const ns of needed) refs.secrets.set(`${ns}/${name}`, found.get(ns) ?? reduceSecret(name, undefined));
  refs.listedNames.set(name, everywhere.filter((n) => n !== "").sort());
  return [];
}

/** ServiceAccounts of `namespaces` (one namespace's LIST, or the cluster-wide one), reduced to their pull secrets. */
async function listServiceAccounts(
  ctx: DiagnoseContext,
  list: (o: ListOptions) => Promise<ListPage<KubeServiceAccount>>,
  namespaces: ReadonlySet<string>,
  refs: References,
): Promise<void> {
  const carriers = new Map<string, Array<{ name: string; pullSecrets: string[] }>>([...namespaces].map((ns) => [ns, []]));
  try {
    await forEachListed(
      list,
      {},
      (sa) => {
        const ns = sa.metadata.namespace ?? [...namespaces][0]!;
        if (!namespaces.has(ns)) return;
        const pulls = (sa.imagePullSecrets ?? []).map((r) => r.name ?? "").filter((n) => n !== "");
        refs.serviceAccounts.set(`${ns}/${sa.metadata.name}`, pulls);
        if (pulls.length > 0) carriers.get(ns)!.push({ name: sa.metadata.name, pullSecrets: pulls });
      },
      ctx.paging,
    );
    for (const [ns, list] of carriers) refs.saNamespaces.set(ns, list);
  } catch (error) {
    const message = describe(
      error,
      namespaces.size === 1 ? `ServiceAccounts of ${[...namespaces][0]} could not be listed` : "ServiceAccounts could not be listed",
    );
    for (const ns of namespaces) refs.saNamespaces.set(ns, { error: message });
    ctx.diagnosis.errors.push(message);
  }
}

/** Does the kubelet's text alone name this container's cause (steps 0–1 of the classification)? */
function explainedByKubelet(ctx: DiagnoseContext, s: Stuck, errors: Map<string, string>): boolean {
  const detail = s.detail ?? errors.get(containerKey(s.namespace, s.pod, s.container));
  return (
    causeFromKubelet({
      namespace: s.namespace,
      pod: s.pod,
      container: s.container,
      image: s.image,
      reason: s.reason,
      ...(s.message ? { message: s.message } : {}),
      ...(detail ? { detail } : {}),
      podPullSecrets: s.pullSecrets,
      secrets: [],
      configuredHosts: ctx.target.configuredHosts,
      now: ctx.now,
    }) !== undefined
  );
}

/**
 * For each referenced Secret that does not exist: the namespaces where a Secret of that name
 * does — one cluster-wide LIST by `fieldSelector=metadata.name=NAME` per distinct name (none
 * again for a name already listed). Only the namespace of each item is kept.
 */
async function secretsElsewhere(ctx: DiagnoseContext, refs: References): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = Object.fromEntries(refs.listedNames);
  const missing = [...new Set([...refs.secrets.values()].filter((s): s is ReducedSecret => !("error" in s) && !s.exists).map((s) => s.name))].filter(
    (n) => !refs.listedNames.has(n),
  );
  for (const name of missing) {
    const namespaces: string[] = [];
    try {
      await forEachListed(
        (o) => ctx.api.listSecrets(o),
        { fieldSelector: `metadata.name=${name}` },
        (s) => void namespaces.push(s.metadata.namespace ?? ""),
        {
          ...ctx.paging,
          limit: Math.min(ctx.paging.limit, SECRET_PAGE_SIZE),
        },
      );
      out[name] = namespaces.filter((n) => n !== "").sort();
    } catch (error) {
      ctx.diagnosis.errors.push(describe(error, `Secrets named ${name} could not be listed`));
    }
  }
  return out;
}

/** Classifies every stuck container: all are counted by cause, the first `maxStuck` are listed. */
function classifyAll(ctx: DiagnoseContext, stuck: readonly Stuck[], errors: Map<string, string>, refs: References, elsewhere: Record<string, string[]>): void {
  const maxStuck = ctx.deps.maxStuck ?? MAX_STUCK;
  const summary = new Map<CauseCode, { containers: number; namespaces: Set<string> }>();
  let truncated = 0;
  for (const s of stuck) {
    const row = stuckRow(ctx, s, errors.get(containerKey(s.namespace, s.pod, s.container)), refs, elsewhere);
    for (const code of new Set(row.causes.map((c) => c.code))) {
      const entry = summary.get(code) ?? { containers: 0, namespaces: new Set<string>() };
      entry.containers++;
      entry.namespaces.add(s.namespace);
      summary.set(code, entry);
    }
    if (ctx.diagnosis.stuck.length < maxStuck) ctx.diagnosis.stuck.push(row);
    else truncated++;
  }
  ctx.diagnosis.summary = [...summary.entries()]
    .map(([code, e]): CauseSummary => ({ code, containers: e.containers, namespaces: [...e.namespaces].sort() }))
    .sort((a, b) => b.containers - a.containers || a.code.localeCompare(b.code));
  if (truncated > 0) ctx.diagnosis.truncated = truncated;
}

/** One report row: the container and its causes (an unreadable Secret is the cause when there is one). */
function stuckRow(ctx: DiagnoseContext, s: Stuck, eventError: string | undefined, refs: References, elsewhere: Record<string, string[]>): StuckContainerReport {
  const reduced = s.pullSecrets.map((n) => refs.secrets.get(`${s.namespace}/${n}`));
  const unreadable = reduced.filter((r): r is { error: string } => r !== undefined && "error" in r);
  const detail = s.detail ?? eventError;
  const row: StuckContainerReport = { namespace: s.namespace, pod: s.pod, container: s.container, image: s.image, reason: s.reason, causes: [] };
  if (s.message) row.message = quoteKubeletMessage(s.message);
  if (detail) row.detail = quoteKubeletMessage(detail);
  const input = {
    namespace: s.namespace,
    pod: s.pod,
    container: s.container,
    image: s.image,
    reason: s.reason,
    ...(s.message ? { message: s.message } : {}),
    ...(detail ? { detail } : {}),
    configuredHosts: ctx.target.configuredHosts,
    pullSecretName: ctx.target.pullSecretName,
    now: ctx.now,
  };
  if (unreadable.length > 0) {
    // A pull error that names its cause needs no Secret: it wins over an unreadable one.
    const readable = reduced.filter((r): r is ReducedSecret => r !== undefined && !("error" in r));
    const fromKubelet = causeFromKubelet({ ...input, podPullSecrets: s.pullSecrets, secrets: readable });
    row.causes = fromKubelet
      ? [fromKubelet]
      : [{ code: "unknown", message: unreadable.map((u) => u.error).join("; "), hint: "grant get on secrets (infra/k8s/rbac.yaml) and diagnose again" }];
    return row;
  }
  const sa = s.serviceAccountName || "default";
  const saNamespace = refs.saNamespaces.get(s.namespace);
  const saPulls = refs.serviceAccounts.get(`${s.namespace}/${sa}`);
  row.causes = classifyStuckContainer({
    ...input,
    ...(s.serviceAccountName ? { serviceAccountName: s.serviceAccountName } : {}),
    podPullSecrets: s.pullSecrets,
    ...(saPulls !== undefined ? { serviceAccountPullSecrets: saPulls } : {}),
    ...(saNamespace && !("error" in saNamespace) ? { namespaceServiceAccounts: saNamespace } : {}),
    secrets: reduced as ReducedSecret[],
    secretsElsewhere: elsewhere,
  });
  return row;
}
