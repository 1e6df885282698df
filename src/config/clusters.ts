/**
 * EKS_CLUSTERS: the clusters a run works on, written as `region:name` strings, cluster ARNs or a
 * JSON list of objects (name, region, endpoint, caData, roleArn, externalId, sessionName). Each
 * entry is checked on its own (name, region, fields), then none may be listed twice.
 */
import { EKS_CLUSTER_NAME } from "../shared/names";
import { checkRegion } from "../formats/region";
import type { EnvReader } from "./env-reader";
import { DEFAULT_SESSION_NAME, type AssumeRoleConfig, type ClusterConfig } from "./types";

const CLUSTERS_EXAMPLE =
  'us-east-1:prod,eu-west-1:staging, or a cluster ARN arn:aws:eks:us-east-1:123456789012:cluster/prod, or JSON [{"name":"prod","region":"us-east-1"}]';
const CLUSTER_ARN = /^arn:(aws[a-z-]*):eks:([^:]*):(\d{12})?:cluster\/(.*)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/([\x21-\x7e]+\/)?[\w+=,.@-]{1,64}$/;
const OBJECT_FIELDS = ["name", "region", "endpoint", "caData", "roleArn", "externalId", "sessionName"];

/** The assume-role fields of one EKS_CLUSTERS JSON entry (roleArn, externalId, sessionName). */
function readAssumeRole(reader: EnvReader, cluster: string, o: Record<string, unknown>): AssumeRoleConfig | undefined {
  const { roleArn, externalId, sessionName } = o;
  if (roleArn === undefined) {
    if (externalId !== undefined || sessionName !== undefined) reader.problem(`EKS_CLUSTERS: cluster ${cluster}: externalId and sessionName need a roleArn`);
    return undefined;
  }
  let ok = true;
  if (typeof roleArn !== "string" || !ROLE_ARN.test(roleArn)) {
    reader.problem(`EKS_CLUSTERS: cluster ${cluster}: roleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
    ok = false;
  }
  if (externalId !== undefined && (typeof externalId !== "string" || !/^[\w+=,.@:/-]{2,1224}$/.test(externalId))) {
    reader.problem(`EKS_CLUSTERS: cluster ${cluster}: externalId must be 2-1224 of the characters A-Z a-z 0-9 + = , . @ : / - _`);
    ok = false;
  }
  if (sessionName !== undefined && (typeof sessionName !== "string" || !/^[\w+=,.@-]{2,64}$/.test(sessionName))) {
    reader.problem(`EKS_CLUSTERS: cluster ${cluster}: sessionName must be 2-64 of the characters A-Z a-z 0-9 + = , . @ - _`);
    ok = false;
  }
  if (!ok) return undefined;
  return {
    roleArn: roleArn as string,
    ...(externalId !== undefined ? { externalId: externalId as string } : {}),
    sessionName: (sessionName as string | undefined) ?? DEFAULT_SESSION_NAME,
  };
}

/** Where JSON.parse stopped, as "at position N (…text…)" with the text around it. */
function jsonErrorPosition(raw: string, error: unknown): string {
  const m = /position (\d+)/.exec((error as Error).message ?? "");
  if (m === null) return "(the text ends too early)";
  const at = Number(m[1]);
  return `at position ${at} (${JSON.stringify(raw.slice(Math.max(0, at - 12), at))} here→ ${JSON.stringify(raw.slice(at, at + 12))})`;
}

/** EKS_CLUSTERS as a list of entries (strings or objects); undefined when it cannot be read (problem recorded). */
function clusterEntries(reader: EnvReader, raw: string): unknown[] | undefined {
  if (!raw.startsWith("[") && !raw.startsWith("{")) return reader.list("EKS_CLUSTERS", { noSpaces: true });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    reader.problem(`EKS_CLUSTERS: invalid JSON ${jsonErrorPosition(raw, error)}; expected e.g. [{"name":"prod","region":"us-east-1"}]`);
    return undefined;
  }
  if (Array.isArray(parsed)) return parsed as unknown[];
  if (typeof parsed === "object" && parsed !== null) {
    reader.problem(`EKS_CLUSTERS: a JSON object where a list is expected: wrap the entries in [ ], e.g. [${JSON.stringify(parsed)}]`);
  } else reader.problem(`EKS_CLUSTERS: expected a JSON list of clusters, e.g. [{"name":"prod","region":"us-east-1"}]`);
  return undefined;
}

/** One `region:name`, `name` or cluster ARN entry. */
function stringCluster(reader: EnvReader, item: string, defaultRegion: string | undefined): ClusterConfig | undefined {
  if (item.startsWith("arn:")) {
    const arn = CLUSTER_ARN.exec(item);
    if (arn === null || arn[2] === "" || arn[4] === "") {
      reader.problem(`EKS_CLUSTERS: ${JSON.stringify(item)} is not an EKS cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>)`);
      return undefined;
    }
    return { name: arn[4]!, region: arn[2]! };
  }
  const colon = item.indexOf(":");
  const region = colon < 0 ? defaultRegion : item.slice(0, colon);
  const name = colon < 0 ? item : item.slice(colon + 1);
  if (region === undefined) {
    reader.problem(`EKS_CLUSTERS: ${JSON.stringify(item)} has no region and AWS_REGION is not set (write region:name)`);
    return undefined;
  }
  return { name, region };
}

/** An object entry's endpoint (an https:// URL with no path) and caData (a base64 PEM bundle), into `cluster`. */
function readEndpointAndCa(reader: EnvReader, o: Record<string, unknown>, cluster: ClusterConfig): void {
  if (o.endpoint !== undefined) {
    if (typeof o.endpoint !== "string" || !/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(o.endpoint)) {
      reader.problem(`EKS_CLUSTERS: cluster ${cluster.name}: endpoint must be an https:// URL with no path`);
    } else cluster.endpoint = o.endpoint.replace(/\/$/, "");
  }
  // caData alone or with endpoint; an endpoint alone takes the CA from DescribeCluster.
  if (o.caData !== undefined) {
    if (
      typeof o.caData !== "string" ||
      !/^[A-Za-z0-9+/=\s]+$/.test(o.caData) ||
      !Buffer.from(o.caData, "base64").toString("utf8").includes("BEGIN CERTIFICATE")
    ) {
      reader.problem(`EKS_CLUSTERS: cluster ${cluster.name}: caData must be a base64 PEM CA bundle (as EKS returns it)`);
    } else cluster.caData = o.caData.replace(/\s+/g, "");
  }
}

/** One JSON object entry. */
function objectCluster(reader: EnvReader, o: Record<string, unknown>, defaultRegion: string | undefined): ClusterConfig | undefined {
  const unknownKeys = Object.keys(o).filter((k) => !OBJECT_FIELDS.includes(k));
  if (unknownKeys.length > 0)
    reader.problem(`EKS_CLUSTERS: unknown field ${unknownKeys.map((k) => JSON.stringify(k)).join(", ")} (allowed: ${OBJECT_FIELDS.join(", ")})`);
  const region = typeof o.region === "string" ? o.region : defaultRegion;
  if (typeof o.name !== "string" || region === undefined) {
    reader.problem(
      `EKS_CLUSTERS: every entry needs a string name (and a region, or AWS_REGION), e.g. {"name":"prod","region":"us-east-1"}; got ${JSON.stringify(o).slice(0, 80)}`,
    );
    return undefined;
  }
  const cluster: ClusterConfig = { name: o.name, region };
  readEndpointAndCa(reader, o, cluster);
  const assumeRole = readAssumeRole(reader, o.name, o);
  if (assumeRole !== undefined) cluster.assumeRole = assumeRole;
  return cluster;
}

/** One entry of any form; undefined (problem recorded) when it is none. */
function clusterEntry(reader: EnvReader, item: unknown, defaultRegion: string | undefined): ClusterConfig | undefined {
  if (typeof item === "string") return stringCluster(reader, item.trim(), defaultRegion);
  if (typeof item === "object" && item !== null && !Array.isArray(item)) return objectCluster(reader, item as Record<string, unknown>, defaultRegion);
  reader.problem(`EKS_CLUSTERS: entries must be region:name strings, cluster ARNs or objects; expected e.g. ${CLUSTERS_EXAMPLE}`);
  return undefined;
}

/** EKS_CLUSTERS: every entry read, checked (name, region), none twice. */
export function readClusters(reader: EnvReader, defaultRegion: string | undefined): ClusterConfig[] {
  const raw = reader.raw("EKS_CLUSTERS");
  if (raw === undefined) return [];
  const items = clusterEntries(reader, raw);
  if (items === undefined) return [];
  const clusters: ClusterConfig[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const cluster = clusterEntry(reader, item, defaultRegion);
    if (cluster === undefined) continue;
    if (!EKS_CLUSTER_NAME.test(cluster.name))
      reader.problem(
        `EKS_CLUSTERS: ${JSON.stringify(cluster.name)} is not a valid EKS cluster name (letters, digits, - and _, up to 100); expected e.g. ${CLUSTERS_EXAMPLE}`,
      );
    const region = checkRegion(cluster.region);
    if (!region.ok) reader.problem(`EKS_CLUSTERS: cluster ${cluster.name}: ${region.problem}`);
    const key = `${cluster.region}:${cluster.name}`;
    if (seen.has(key)) reader.problem(`EKS_CLUSTERS: ${key} is listed twice`);
    seen.add(key);
    clusters.push(cluster);
  }
  return clusters;
}
