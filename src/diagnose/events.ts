/**
 * The kubelet's detailed pull error per stuck container, from the cluster's `Failed` pod Events
 * (one paginated LIST by field selector). The formats: docs/facts.md §7.
 */
import { containerKey, describe, listClusterOrNamespaces, type DiagnoseContext } from "./context";
import { isPullErrorEvent } from "./message";
import type { Stuck } from "./reduce";
import type { KubeEvent } from "../kube/types";

/** `spec.containers{app}`, `spec.initContainers{init}` → the container's name. */
const CONTAINER_FIELD = /^spec\.(?:initContainers|containers|ephemeralContainers)\{(.+)\}$/;

/**
 * The kubelet's detailed pull error per stuck container: the newest `Failed` event about that
 * container (involvedObject.fieldPath) whose message is the error itself — the kubelet follows it
 * with `Error: ErrImagePull` / `Error: ImagePullBackOff`, which carry none. An event of an
 * earlier pod of the same name (another uid) is ignored; one without a fieldPath counts for
 * every container of its pod.
 */
export async function pullErrorEvents(ctx: DiagnoseContext, stuck: readonly Stuck[]): Promise<Map<string, string>> {
  const uids = new Map<string, string | undefined>();
  for (const s of stuck) uids.set(`${s.namespace}/${s.pod}`, s.uid);
  const newest = new Map<string, { at: string; message: string }>();
  try {
    await listClusterOrNamespaces(
      ctx,
      {
        namespaces: new Set(stuck.map((s) => s.namespace)),
        clusterWide: (o, onItem) => ctx.api.listEvents(o, onItem),
        namespaced: (namespace, o, onItem) => ctx.api.listNamespacedEvents(namespace, o, onItem),
        options: { fieldSelector: "involvedObject.kind=Pod,reason=Failed" },
        // Reduced on arrival to the pull errors of a stuck pod (this pod, not an earlier one of its name).
        reduce: (e: KubeEvent) => {
          const namespace = e.involvedObject?.namespace ?? e.metadata.namespace ?? "";
          const pod = e.involvedObject?.name ?? "";
          const podKey = `${namespace}/${pod}`;
          if (!uids.has(podKey) || !isPullErrorEvent(e.message)) return undefined;
          const uid = uids.get(podKey);
          if (uid && e.involvedObject?.uid && e.involvedObject.uid !== uid) return undefined;
          const container = CONTAINER_FIELD.exec(e.involvedObject?.fieldPath ?? "")?.[1];
          const key = container === undefined ? `${podKey}/*` : containerKey(namespace, pod, container);
          return { key, at: e.lastTimestamp ?? e.eventTime ?? "", message: e.message! };
        },
      },
      ({ key, at, message }) => {
        const seen = newest.get(key);
        if (!seen || at >= seen.at) newest.set(key, { at, message });
      },
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
