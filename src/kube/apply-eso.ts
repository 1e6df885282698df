/**
 * Step 5 of the apply engine: ESO re-sync. An ExternalSecret that owns an ESO-managed pull secret
 * in a target namespace is annotated with `force-sync` on every heal (the fallback never writes
 * that Secret: ESO's re-sync is the fix there), and with ESO_RESYNC also those matching its
 * label selector. Each ExternalSecret is patched at most once. An ExternalSecret owned by a
 * ClusterExternalSecret is re-synced through its parent instead, whatever ESO_RESYNC says: the
 * parent's spec.externalSecretMetadata.annotations gets `force-sync` (once per parent), which its
 * controller copies to every child; an annotation set on the child itself is reset by that
 * controller and the re-sync is lost. The owner of a pull secret's ExternalSecret is read from a
 * LIST by name (`fieldSelector=metadata.name=…`, one per distinct name), or from the LIST the
 * selection needs anyway.
 */
import type { ApplyContext, ClusterState, NamespaceResult } from "./apply-types";
import { clusterForceSyncPatch, esoWithoutOwnerReason, forceSyncPatch } from "./decide";
import { matchesLabelSelector, parseLabelSelector } from "./namespaces";
import { forEachListed, pool } from "./paging";
import { withRetry } from "./retry";
import { KubeApiError, type KubeExternalSecret, type ListOptions } from "./types";
import { isDeadlineExceeded } from "../shared/deadline";

/**
 * Adds what the re-sync did for a row's ExternalSecret to the row (the apply engine joins a row's
 * remarks to its reason once, when the cluster is done).
 */
function remark(row: NamespaceResult, text: string): void {
  (row.remarks ??= []).push(text);
}

/** An ExternalSecret reduced to what the re-sync reads (its ESO spec and status are dropped on arrival). */
function reducedExternalSecret(es: KubeExternalSecret): KubeExternalSecret {
  const { name, namespace, labels, ownerReferences } = es.metadata;
  const targetName = es.spec?.target?.name;
  return {
    metadata: { name, ...(namespace !== undefined ? { namespace } : {}), ...(labels ? { labels } : {}), ...(ownerReferences ? { ownerReferences } : {}) },
    ...(targetName !== undefined ? { spec: { target: { name: targetName } } } : {}),
  };
}

type WantedExternalSecret = { namespace: string; name: string; rows: NamespaceResult[]; parent?: string };

/** Which ExternalSecrets a re-sync patches (and the rows each serves), and what the LISTs showed. */
interface ResyncPlan {
  wanted: Map<string, WantedExternalSecret>;
  /** `namespace/name` of every ExternalSecret listed. */
  listedIds: Set<string>;
  /** The parent ClusterExternalSecret of those a ClusterExternalSecret owns. */
  parents: Map<string, string>;
  want: (namespace: string, name: string, row?: NamespaceResult) => void;
  remember: (es: KubeExternalSecret) => void;
}

function newResyncPlan(): ResyncPlan {
  const plan: ResyncPlan = {
    wanted: new Map(),
    listedIds: new Set(),
    parents: new Map(),
    want: (namespace, name, row) => {
      const id = `${namespace}/${name}`;
      const entry = plan.wanted.get(id) ?? { namespace, name, rows: [] };
      if (row) entry.rows.push(row);
      plan.wanted.set(id, entry);
    },
    remember: (es) => {
      const id = `${es.metadata.namespace}/${es.metadata.name}`;
      plan.listedIds.add(id);
      const parent = es.metadata.ownerReferences?.find((o) => o.kind === "ClusterExternalSecret" && o.name)?.name;
      if (parent) plan.parents.set(id, parent);
    },
  };
  return plan;
}

/**
 * Pull secrets ESO manages by label only (no owner reference) and ESO_RESYNC's selection need the
 * ExternalSecrets listed: label-only rows need every ExternalSecret (which one writes the Secret
 * is in its spec), the selection only those its selector matches.
 */
async function listForResync(ctx: ApplyContext, state: ClusterState, plan: ResyncPlan, unowned: NamespaceResult[]): Promise<void> {
  const { api, target, result } = ctx;
  const selector = target.esoResync?.labelSelector;
  if (!((selector !== undefined && state.selected.length > 0) || unowned.length > 0)) return;
  const selected = new Set(state.selected);
  try {
    const listed: KubeExternalSecret[] = [];
    await forEachListed(
      (o, onItem) => api.listExternalSecrets(o, onItem),
      unowned.length > 0 ? {} : { labelSelector: selector! },
      (es) => void listed.push(es),
      ctx.paging,
      reducedExternalSecret,
    );
    const requirements = selector === undefined ? undefined : parseLabelSelector(selector);
    const matchesSelector = (es: KubeExternalSecret) => requirements !== undefined && matchesLabelSelector(requirements, es.metadata.labels ?? {});
    for (const es of listed) {
      plan.remember(es);
      const ns = es.metadata.namespace;
      if (!ns || !selected.has(ns)) continue;
      const writes = es.spec?.target?.name || es.metadata.name;
      const owning = unowned.filter((row) => row.namespace === ns && writes === target.pullSecretName);
      if (owning.length > 0 || matchesSelector(es)) plan.want(ns, es.metadata.name);
      for (const row of owning) {
        row.externalSecret = `${ns}/${es.metadata.name}`;
        plan.wanted.get(row.externalSecret)!.rows.push(row);
      }
    }
    for (const row of unowned) if (!row.externalSecret) noLiveOwner(row, target.pullSecretName, undefined);
  } catch (error) {
    if (isDeadlineExceeded(error)) result.deadlineReached = true;
    const why =
      error instanceof KubeApiError && error.problem.kind === "not-found"
        ? "the ExternalSecret API (external-secrets.io/v1) is not served by this cluster (ESO not installed?)"
        : ctx.describe(error, "list", "externalsecrets");
    result.externalSecrets.failed.push({ externalSecret: "*", reason: `listing ExternalSecrets failed: ${why}` });
  }
}

/**
 * 5. Annotates ExternalSecrets with `force-sync`: those that own an ESO-managed pull secret in a
 * target namespace (always: the heal's fix there is ESO's re-sync), and, with ESO_RESYNC, those
 * matching its label selector in the target namespaces. Each is patched once; a child of a
 * ClusterExternalSecret through its parent, whether or not ESO_RESYNC selected it.
 */
export async function resyncExternalSecrets(ctx: ApplyContext, state: ClusterState): Promise<void> {
  const { api, target, result } = ctx;
  const esoRows = result.namespaces.filter((n) => n.outcome === "eso-managed");
  const plan = newResyncPlan();
  const { wanted, parents } = plan;
  for (const row of esoRows) if (row.externalSecret) plan.want(row.namespace, row.externalSecret.slice(row.namespace.length + 1), row);
  await listForResync(
    ctx,
    state,
    plan,
    esoRows.filter((row) => !row.externalSecret),
  );
  // An owner reference to an ExternalSecret that is not there: a conflict, not a re-sync.
  if (await lookUpParents(ctx, wanted, plan.listedIds, plan.remember)) {
    for (const [id, es] of wanted)
      if (es.rows.length > 0 && !plan.listedIds.has(id)) for (const row of es.rows.splice(0)) noLiveOwner(row, target.pullSecretName, es.name);
    for (const [id, es] of wanted) if (es.rows.length === 0 && !plan.listedIds.has(id)) wanted.delete(id);
  }
  for (const [id, es] of wanted) {
    const parent = parents.get(id);
    if (parent !== undefined) es.parent = parent;
  }

  const now = (ctx.deps.now ?? (() => new Date()))();
  const patch = forceSyncPatch(now);
  const direct = [...wanted.entries()].filter(([, es]) => es.parent === undefined);
  const byParent = new Map<string, Array<[string, (typeof direct)[number][1]]>>();
  for (const [id, es] of wanted) if (es.parent !== undefined) byParent.set(es.parent, [...(byParent.get(es.parent) ?? []), [id, es]]);
  const clusterPatched: string[] = [];
  await pool(direct, target.concurrency, async ([id, es]) => {
    try {
      if (!target.dryRun) {
        ctx.deps.deadline?.check("an ExternalSecret re-sync");
        await withRetry(() => api.patchExternalSecret(es.namespace, es.name, patch), ctx.policy, ctx.hooks);
      }
      result.externalSecrets.resynced.push(id);
      for (const row of es.rows)
        remark(row, target.dryRun ? `ExternalSecret ${id} would be re-synced (force-sync)` : `ExternalSecret ${id} re-synced (force-sync)`);
    } catch (error) {
      if (isDeadlineExceeded(error)) result.deadlineReached = true;
      const reason = ctx.describe(error, "patch", "externalsecrets", es.namespace);
      result.externalSecrets.failed.push({ externalSecret: id, reason });
      for (const row of es.rows) remark(row, `re-sync of ExternalSecret ${id} failed: ${reason}`);
    }
  });
  // Children of a ClusterExternalSecret: one patch of the parent re-syncs them all.
  const clusterPatch = clusterForceSyncPatch(now);
  await pool([...byParent.entries()], target.concurrency, async ([parent, children]) => {
    try {
      if (!target.dryRun) {
        ctx.deps.deadline?.check("a ClusterExternalSecret re-sync");
        await withRetry(() => api.patchClusterExternalSecret(parent, clusterPatch), ctx.policy, ctx.hooks);
      }
      clusterPatched.push(parent);
      for (const [id, es] of children) {
        result.externalSecrets.resynced.push(id);
        for (const row of es.rows)
          remark(
            row,
            target.dryRun
              ? `ExternalSecret ${id} would be re-synced (force-sync through ClusterExternalSecret ${parent})`
              : `ExternalSecret ${id} re-synced (force-sync through ClusterExternalSecret ${parent})`,
          );
      }
    } catch (error) {
      if (isDeadlineExceeded(error)) result.deadlineReached = true;
      const reason = `ClusterExternalSecret ${parent}: ${ctx.describe(error, "patch", "clusterexternalsecrets")}`;
      for (const [id, es] of children) {
        result.externalSecrets.failed.push({ externalSecret: id, reason });
        for (const row of es.rows) remark(row, `re-sync of ExternalSecret ${id} failed: ${reason}`);
      }
    }
  });
  result.externalSecrets.resynced.sort();
  if (clusterPatched.length > 0) result.externalSecrets.clusterExternalSecrets = clusterPatched.sort();
}

/** Above this many distinct ExternalSecret names, one unfiltered LIST replaces the LISTs by name. */
const OWNER_LOOKUP_MAX_NAMES = 8;

/**
 * The ExternalSecrets that own an ESO-managed pull secret (known from the Secret's owner reference)
 * and were not in the selection's LIST: listed by name, cluster-wide, to learn whether a
 * ClusterExternalSecret owns them (then only its parent can re-sync them). Usually one LIST: the
 * children of a ClusterExternalSecret share its name. If the LIST fails, the ExternalSecret is
 * annotated directly, as before, and its rows say why.
 */
async function lookUpParents(
  ctx: ApplyContext,
  wanted: Map<string, WantedExternalSecret>,
  listedIds: Set<string>,
  remember: (es: KubeExternalSecret) => void,
): Promise<boolean> {
  const unknown = [...wanted.entries()].filter(([id, es]) => es.rows.length > 0 && !listedIds.has(id));
  if (unknown.length === 0) return true;
  const names = [...new Set(unknown.map(([, es]) => es.name))].sort();
  const lists: Array<Omit<ListOptions, "limit" | "continue">> =
    names.length > OWNER_LOOKUP_MAX_NAMES ? [{}] : names.map((name) => ({ fieldSelector: `metadata.name=${name}` }));
  try {
    for (const options of lists) {
      // Streamed and reduced like the selection's LIST: with many names this one is unfiltered.
      await forEachListed((o, onItem) => ctx.api.listExternalSecrets(o, onItem), options, remember, ctx.paging, reducedExternalSecret);
    }
    return true;
  } catch (error) {
    if (isDeadlineExceeded(error)) ctx.result.deadlineReached = true;
    const why = `its owner could not be looked up (${ctx.describe(error, "list", "externalsecrets")}), so it is annotated directly`;
    for (const [id, es] of unknown) for (const row of es.rows) remark(row, `ExternalSecret ${id}: ${why}`);
    return false;
  }
}

/** An ESO-looking pull secret without a live owner (see esoWithoutOwnerReason): a conflict row. */
function noLiveOwner(row: NamespaceResult, pullSecretName: string, owner: string | undefined): void {
  row.outcome = "conflict";
  row.reason = esoWithoutOwnerReason(row.namespace, pullSecretName, owner);
  delete row.externalSecret;
}
