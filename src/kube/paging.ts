/**
 * The two loops every cluster-wide reader needs: a paged LIST that hands each item on as it
 * arrives (pages are not kept), and a bounded pool of workers. Used by the apply engine and
 * the diagnosis — and the request counter both report.
 */
import { withRetry, type RetryHooks, type RetryPolicy } from "./retry";
import type { KubeApi, KubeNamespace, KubeServiceAccount, ListOptions, ListPage } from "./types";

/** How a paged LIST is fetched: page size, and the retry policy applied to each page. */
export interface Paging {
  limit: number;
  policy: RetryPolicy;
  hooks?: RetryHooks;
}

/** A LIST whose paging cannot end (a repeated `continue` token) or whose page is not a list. */
export class ListPagingError extends Error {
  override readonly name = "ListPagingError";
}

/**
 * Pages through a LIST (`limit` + `continue`), each page retried, handing each item to `each`
 * as `reduce` leaves it (undefined: dropped). The adapter may stream a page's items (KubeApi's
 * `onItem`): each is reduced on arrival, so a page's objects are never held together — only
 * what `reduce` keeps. What a page reduces to is handed to `each` once the page is complete, so
 * a page that fails half-way and is fetched again counts each item once.
 * Bounded: the deadline of `paging.hooks` is checked before every page (and bounds each
 * page's retries), and a `continue` token the API server already gave is an error instead of
 * an endless loop.
 */
export async function forEachListed<T, R = T>(
  list: (options: ListOptions, onItem: (item: T) => void) => Promise<ListPage<T>>,
  options: Omit<ListOptions, "limit" | "continue">,
  each: (item: R) => void,
  paging: Paging,
  reduce: (item: T) => R | undefined = (item) => item as unknown as R,
): Promise<void> {
  const seen = new Set<string>();
  let token: string | undefined;
  let pages = 0;
  do {
    paging.hooks?.deadline?.check("a paged LIST");
    let kept: R[] = [];
    const keep = (item: T): void => {
      const reduced = reduce(item);
      if (reduced !== undefined) kept.push(reduced);
    };
    const page = await withRetry(
      () => {
        kept = [];
        return list({ ...options, limit: paging.limit, ...(token ? { continue: token } : {}) }, keep);
      },
      paging.policy,
      paging.hooks,
    );
    pages++;
    if (!page || !Array.isArray(page.items)) throw new ListPagingError(`page ${pages} of the LIST is not a list (no items array)`);
    for (const item of page.items) keep(item);
    for (const item of kept) each(item);
    token = page.continue || undefined;
    if (token !== undefined) {
      // The token itself is opaque server state: never put it in a message.
      if (seen.has(token)) throw new ListPagingError(`the API server repeated a continue token after page ${pages}: the LIST would never end`);
      seen.add(token);
    }
  } while (token);
}

/** A namespace reduced to what selection needs (name, labels, phase) as it arrives from a LIST. */
export function reducedNamespace(n: KubeNamespace): KubeNamespace {
  return { metadata: { name: n.metadata.name, labels: n.metadata.labels ?? {} }, status: { phase: n.status?.phase ?? "Active" } };
}

/** A ServiceAccount reduced to what the engine reads (its pull secrets, for the patch's resourceVersion). */
export function reducedServiceAccount(sa: KubeServiceAccount): KubeServiceAccount {
  const { name, namespace, resourceVersion } = sa.metadata;
  return {
    metadata: { name, ...(namespace !== undefined ? { namespace } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    ...(sa.imagePullSecrets ? { imagePullSecrets: sa.imagePullSecrets } : {}),
  };
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
