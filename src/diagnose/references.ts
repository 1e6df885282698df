/**
 * What a diagnosis reads about the stuck pods' references, read-only and bounded: the referenced
 * Secrets (reduced on arrival), the ServiceAccounts of namespaces whose stuck pods have no
 * imagePullSecrets, and where a missing Secret's name exists elsewhere.
 */
import { forEachListed, pool } from "../kube/paging";
import { classify as classifyFailure } from "../kube/retry";
import { DIAGNOSIS_SECRETS_MANIFEST, DIAGNOSIS_SECRETS_ROLE } from "../kube/rights";
import type { KubeSecret, KubeServiceAccount, ListOptions, ListPage } from "../kube/types";
import { causeFromKubelet } from "./kubelet-causes";
import type { ReducedSecret } from "./types";
import { containerKey, describe, READ_CONCURRENCY, type DiagnoseContext } from "./context";
import { reduceSecret, type Stuck } from "./reduce";

/** A Secret that could not be read: why, and (when it is not the usual "grant get on secrets") what to do. */
export type ReadSecrets = Map<string, ReducedSecret | { error: string; hint?: string }>;
export interface References {
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

/**
 * The referenced Secrets and, for pods without imagePullSecrets, their namespaces'
 * ServiceAccounts. Per Secret name: one GET per namespace, or — from LIST_FROM namespaces on —
 * one cluster-wide LIST by `fieldSelector=metadata.name=NAME` (each item reduced on arrival, the
 * other namespaces' copies dropped; a failed LIST falls back to the GETs). ServiceAccounts: one
 * LIST per namespace, or one cluster-wide LIST from LIST_FROM namespaces on. `concurrency` at a time.
 */
export async function readReferences(ctx: DiagnoseContext, stuck: readonly Stuck[], errors: Map<string, string>): Promise<References> {
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
      ? [() => listServiceAccounts(ctx, (o, onItem) => ctx.api.listServiceAccounts(o, onItem), new Set(saNamespaces), refs)]
      : saNamespaces.map((ns) => () => listServiceAccounts(ctx, (o, onItem) => ctx.api.listNamespacedServiceAccounts(ns, o, onItem), new Set([ns]), refs))),
    ...gets.map((key) => () => getSecret(ctx, key, refs)),
  ];
  await pool(work, ctx.deps.concurrency ?? READ_CONCURRENCY, (w) => w());
  return refs;
}

/** What the diagnosis says of a Secret it may not read without the optional role. */
export const ROLE_NOT_BOUND = `could not check: the optional role ${DIAGNOSIS_SECRETS_ROLE} is not bound`;
const ROLE_HINT = `to let the diagnosis read the pull Secrets pods reference, bind it (kubectl apply -f ${DIAGNOSIS_SECRETS_MANIFEST}) and diagnose again`;

/**
 * A 403 on a Secret other than the product's pull secret: rbac.yaml grants only that name, the
 * rest needs the optional role. Said once in the notes, not an error (the run does not fail).
 */
function withoutOptionalRole(ctx: DiagnoseContext, name: string, error: unknown): boolean {
  if (name === ctx.target.pullSecretName || classifyFailure(error).kind !== "forbidden") return false;
  const note = `${ROLE_NOT_BOUND} (${DIAGNOSIS_SECRETS_MANIFEST}): Secrets other than ${ctx.target.pullSecretName} that stuck pods reference were not read`;
  const notes = (ctx.diagnosis.notes ??= []);
  if (!notes.includes(note)) notes.push(note);
  return true;
}

async function getSecret(ctx: DiagnoseContext, key: string, refs: References): Promise<void> {
  const [ns, name] = split(key);
  try {
    refs.secrets.set(key, reduceSecret(name, await ctx.retried(() => ctx.api.readSecret(ns, name))));
  } catch (error) {
    if (withoutOptionalRole(ctx, name, error)) {
      refs.secrets.set(key, { error: `Secret ${key}: ${ROLE_NOT_BOUND}`, hint: ROLE_HINT });
      return;
    }
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
      (o, onItem) => ctx.api.listSecrets(o, onItem),
      { fieldSelector: `metadata.name=${name}` },
      ({ ns, reduced }) => {
        everywhere.push(ns);
        if (reduced) found.set(ns, reduced);
      },
      ctx.paging,
      // Reduced on arrival: the other namespaces' copies leave only their namespace.
      (secret: KubeSecret) => {
        const ns = secret.metadata.namespace ?? "";
        return { ns, reduced: needed.has(ns) ? reduceSecret(name, secret) : undefined };
      },
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
  list: (o: ListOptions, onItem: (sa: KubeServiceAccount) => void) => Promise<ListPage<KubeServiceAccount>>,
  namespaces: ReadonlySet<string>,
  refs: References,
): Promise<void> {
  const carriers = new Map<string, Array<{ name: string; pullSecrets: string[] }>>([...namespaces].map((ns) => [ns, []]));
  try {
    await forEachListed<KubeServiceAccount, { ns: string; name: string; pulls: string[] }>(
      list,
      {},
      ({ ns, name, pulls }) => {
        refs.serviceAccounts.set(`${ns}/${name}`, pulls);
        if (pulls.length > 0) carriers.get(ns)!.push({ name, pullSecrets: pulls });
      },
      ctx.paging,
      (sa) => {
        const ns = sa.metadata.namespace ?? [...namespaces][0]!;
        if (!namespaces.has(ns)) return undefined;
        return { ns, name: sa.metadata.name, pulls: (sa.imagePullSecrets ?? []).map((r) => r.name ?? "").filter((n) => n !== "") };
      },
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
export async function secretsElsewhere(ctx: DiagnoseContext, refs: References): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = Object.fromEntries(refs.listedNames);
  const missing = [...new Set([...refs.secrets.values()].filter((s): s is ReducedSecret => !("error" in s) && !s.exists).map((s) => s.name))].filter(
    (n) => !refs.listedNames.has(n),
  );
  // Under namespace-confined RBAC the cluster-wide LIST is forbidden: other namespaces stay unknown.
  if (ctx.confined) return out;
  for (const name of missing) {
    const namespaces: string[] = [];
    try {
      await forEachListed(
        (o, onItem) => ctx.api.listSecrets(o, onItem),
        { fieldSelector: `metadata.name=${name}` },
        (ns) => void namespaces.push(ns),
        ctx.paging,
        (s: KubeSecret) => s.metadata.namespace ?? "",
      );
      out[name] = namespaces.filter((n) => n !== "").sort();
    } catch (error) {
      if (withoutOptionalRole(ctx, name, error)) continue;
      ctx.diagnosis.errors.push(describe(error, `Secrets named ${name} could not be listed`));
    }
  }
  return out;
}
