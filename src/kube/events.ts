/**
 * The answer where the engineer already looks: `kubectl describe pod` lists the Events about a
 * pod, so heal and diagnose record one on each stuck pod they diagnose (Warning: the cause and
 * the fix), and a heal one on each pull Secret it creates or updates (Normal). RECORD_EVENTS.
 *
 * core/v1 Events, not events.k8s.io/v1: the diagnosis already reads core/v1 Events (the same
 * objects either way — both APIs are views of one store), so the product stays on one API group
 * and one shape; kubectl describe shows them either way ("From ecr-token-rotator").
 *
 * Deduplicated across runs: an Event's name is deterministic — the pod's name and a hash of its
 * UID and the cause (a Secret: its namespace/name and the write) — so a repeat finds it. One
 * LIST of the product's own Events (`source=ecr-token-rotator`, the `list` on events the
 * diagnosis already has) says which exist and their count; a new one is created (`count: 1`), a
 * repeat is merge-patched (`count + 1`, `lastTimestamp`, the message). Bounded per cluster and
 * run (MAX_EVENTS). Best effort: a failure is counted and said in the Report, and never fails
 * the run. No credential material: messages are the diagnosis' (already free of it), and the
 * run's credentials (the scrub list) are removed once more.
 */
import { createHash } from "node:crypto";
import { forEachListed, pool, type Paging } from "./paging";
import { classify } from "./retry";
import { describeFailure } from "./failure";
import type { KubeApi, KubeEvent, KubeEventBody, ListOptions, ListPage } from "./types";
import { scrubSecrets } from "../shared/redact";
import type { CauseCode, StuckContainerReport } from "../report/diagnosis-text";
import type { EventsReport } from "../report/pod-actions";

export type { EventsReport } from "../report/pod-actions";

export const REPORTING_CONTROLLER = "ecr-token-rotator";
/** Stable across runs and instances (Lambda or CLI): the Events of one cluster are one series. */
export const REPORTING_INSTANCE = "ecr-token-rotator";
/** Events written at most per cluster and run (stuck pods first, then written Secrets). */
export const MAX_EVENTS = 100;
/**
 * Written pull Secrets given an Event at most per cluster and run: a fleet heal rewrites every
 * namespace's Secret, and its request budget stays N + a handful (the Report lists every write).
 */
export const MAX_SECRET_EVENTS = 10;
/** The Event message limit of events.k8s.io (1 kB), kept for core/v1 too. */
const MAX_MESSAGE = 1024;
const WRITE_CONCURRENCY = 8;

/** The reason of a stuck pod's Event, by the class of its cause. */
export function podEventReason(code: CauseCode): string {
  switch (code) {
    case "not-a-credential-problem":
      return "EcrPullNotCredentials";
    case "registry-permission-denied":
      return "EcrPullPermissionDenied";
    case "unknown":
      return "EcrPullDiagnosis";
    default:
      return "EcrPullCredentials";
  }
}

/** `<object name>.<16 hex of sha256(key)>`: the same object and cause give the same name every run. */
export function eventName(objectName: string, key: string): string {
  return `${objectName.slice(0, 200)}.${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
}

const clip = (text: string): string => {
  const clean = scrubSecrets(text);
  return clean.length <= MAX_MESSAGE ? clean : `${clean.slice(0, MAX_MESSAGE - 1)}…`;
};

function body(
  o: { namespace: string; name: string; kind: string; objectName: string; uid?: string },
  type: KubeEventBody["type"],
  reason: string,
  message: string,
  now: Date,
): KubeEventBody {
  const at = now.toISOString();
  return {
    metadata: { name: o.name, namespace: o.namespace },
    involvedObject: { kind: o.kind, apiVersion: "v1", namespace: o.namespace, name: o.objectName, ...(o.uid ? { uid: o.uid } : {}) },
    type,
    reason,
    message: clip(message),
    source: { component: REPORTING_CONTROLLER },
    reportingComponent: REPORTING_CONTROLLER,
    reportingInstance: REPORTING_INSTANCE,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/** One Warning per stuck pod and cause (containers with the same cause share it), pods in `skip` left out. */
export function podEvents(rows: readonly StuckContainerReport[], now: Date, skip: ReadonlySet<string> = new Set()): KubeEventBody[] {
  const out = new Map<string, KubeEventBody>();
  for (const row of rows) {
    if (skip.has(`${row.namespace}/${row.pod}`)) continue;
    for (const cause of row.causes) {
      const name = eventName(row.pod, `pod|${row.namespace}/${row.pod}|${row.podUid ?? ""}|${cause.code}`);
      if (out.has(name)) continue;
      const where = row.container !== row.pod ? ` (container ${row.container}, image ${row.image})` : ` (image ${row.image})`;
      const message = `${cause.code}${where}: ${cause.message}. Fix: ${cause.hint}`;
      const id = { namespace: row.namespace, name, kind: "Pod", objectName: row.pod, ...(row.podUid ? { uid: row.podUid } : {}) };
      out.set(name, body(id, "Warning", podEventReason(cause.code), message, now));
    }
  }
  return [...out.values()];
}

/** One Normal per pull Secret the heal created or updated. */
export function secretEvents(
  written: ReadonlyArray<{ namespace: string; outcome: "created" | "updated" }>,
  secretName: string,
  hosts: readonly string[],
  now: Date,
): KubeEventBody[] {
  return written.map(({ namespace, outcome }) => {
    const reason = outcome === "created" ? "PullSecretCreated" : "PullSecretUpdated";
    const name = eventName(secretName, `secret|${namespace}/${secretName}|${reason}`);
    const message = `ecr-token-rotator ${outcome} this pull secret in place with fresh ECR credentials for ${hosts.join(", ") || "the configured registries"} (heal); the kubelet reads it at its next pull`;
    return body({ namespace, name, kind: "Secret", objectName: secretName }, "Normal", reason, message, now);
  });
}

/** The counts of the product's Events that already exist, by `namespace/name` (one LIST; per namespace under namespace-confined RBAC). */
async function existingCounts(api: KubeApi, namespaces: readonly string[], paging: Paging, counter: { n: number }): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const options = { fieldSelector: `source=${REPORTING_CONTROLLER}` };
  const keep = (e: KubeEvent) => void found.set(`${e.metadata.namespace}/${e.metadata.name}`, e.count ?? 1);
  type List = (o: ListOptions, each: (item: KubeEvent) => void) => Promise<ListPage<KubeEvent>>;
  const counted =
    (list: List): List =>
    (o, each) => {
      counter.n++;
      return list(o, each);
    };
  try {
    await forEachListed(
      counted((o, each) => api.listEvents(o, each)),
      options,
      keep,
      paging,
    );
  } catch (error) {
    if (classify(error).kind !== "forbidden") throw error;
    for (const ns of namespaces)
      await forEachListed(
        counted((o, each) => api.listNamespacedEvents(ns, o, each)),
        options,
        keep,
        paging,
      );
  }
  return found;
}

/** Writes `wanted` (at most MAX_EVENTS): create the new ones, raise the count of the repeats. Never throws. */
export async function recordEvents(api: KubeApi, wanted: readonly KubeEventBody[], paging: Paging, now: Date): Promise<EventsReport> {
  const report: EventsReport = { recorded: 0, repeated: 0, failed: 0, skipped: Math.max(0, wanted.length - MAX_EVENTS), requests: 0 };
  const todo = wanted.slice(0, MAX_EVENTS);
  if (todo.length === 0) return report;
  const counter = { n: 0 };
  const errors: string[] = [];
  const fail = (reason: string) => {
    report.failed++;
    if (errors.length < 3) errors.push(reason);
  };
  let existing: Map<string, number>;
  try {
    existing = await existingCounts(api, [...new Set(todo.map((e) => e.metadata.namespace))].sort(), paging, counter);
  } catch (error) {
    fail(describeFailure(error, "list", "events", undefined, []));
    existing = new Map();
  }
  await pool(todo, WRITE_CONCURRENCY, async (e) => {
    const { namespace, name } = e.metadata;
    const seen = existing.get(`${namespace}/${name}`);
    try {
      counter.n++;
      if (seen === undefined) {
        await api.createEvent(namespace, e).then(() => report.recorded++);
        return;
      }
      await api.patchEvent(namespace, name, repeatPatch(e, seen, now));
      report.repeated++;
    } catch (error) {
      if (seen === undefined && classify(error).kind === "conflict") {
        // Created meanwhile (or missed by the LIST): a repeat after all.
        counter.n++;
        await api.patchEvent(namespace, name, repeatPatch(e, 1, now)).then(
          () => report.repeated++,
          (again: unknown) => fail(describeFailure(again, "patch", "events", namespace, [])),
        );
      } else fail(seen === undefined ? describeFailure(error, "create", "events", namespace, []) : describeFailure(error, "patch", "events", namespace, []));
    }
  });
  report.requests = counter.n;
  if (errors.length > 0) report.errors = errors;
  return report;
}

/** The merge patch of a repeat: one more occurrence, now, with today's message. */
export function repeatPatch(e: KubeEventBody, count: number, now: Date): Record<string, unknown> {
  return { count: count + 1, lastTimestamp: now.toISOString(), message: e.message, reportingInstance: e.reportingInstance };
}
