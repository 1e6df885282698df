/** Work over a fleet of clusters: bounded parallelism, the reports in the clusters' order. */
import type { ClusterConfig } from "../config/config";
import { pool } from "../kube/paging";

/** `work` over every cluster, at most `limit` at once; the results keep the clusters' order. */
export async function forEachCluster<T>(clusters: readonly ClusterConfig[], limit: number, work: (cluster: ClusterConfig) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(clusters.length);
  const indexed = clusters.map((cluster, index) => ({ cluster, index }));
  await pool(indexed, limit, async ({ cluster, index }) => {
    results[index] = await work(cluster);
  });
  return results;
}
