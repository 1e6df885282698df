/**
 * The two loops every cluster-wide reader needs: a paged LIST that hands each item on as it
 * arrives (pages are not kept), and a bounded pool of workers. Used by the apply engine and
 * the diagnosis — and the request counter both report.
 */
import { withRetry, type RetryHooks, type RetryPolicy } from "./retry";
import type { KubeApi, KubeNamespace, ListOptions, ListPage } from "./types";

/** How a paged LIST is fetched: page size, and the retry policy applied to each page. */
export interface Paging {
  limit: number;
  policy: RetryPolicy;
  hooks?: RetryHooks;
}

/** Pages through a LIST (`limit` + `continue`), each page retried, handing each item to `each`. */
export async function forEachListed<T>(
  list: (options: ListOptions) => Promise<ListPage<T>>,
  options: Omit<ListOptions, "limit" | "continue">,
  each: (item: T) => void,
  paging: Paging,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await withRetry(() => list({ ...options, limit: paging.limit, ...(token ? { continue: token } : {}) }), paging.policy, paging.hooks);
    for (const item of page.items) each(item);
    token = page.continue || undefined;
  } while (token);
}

/** A namespace reduced to what selection needs (name, labels, phase) as it arrives from a LIST. */
export function reducedNamespace(n: KubeNamespace): KubeNamespace {
  return { metadata: { name: n.metadata.name, labels: n.metadata.labels ?? {} }, status: { phase: n.status?.phase ?? "Active" } };
}

/** Runs `worker` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) await worker(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** Wraps every method of the API with a request counter. */
export function counted(api: KubeApi, counter: { n: number }): KubeApi {
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
