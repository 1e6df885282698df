/**
 * Configuration from environment variables, validated once. Every bad variable is reported at
 * once in a single ConfigError. The table in README.md documents each variable.
 *
 * Over 300 lines on purpose: one reader and one validation pass for every variable, in the order
 * of README's configuration table, so the two can be compared side by side.
 */
import { ConfigError } from "../shared/errors";
import { showValue, withoutCredentials } from "../shared/redact";
import { EKS_CLUSTER_NAME, isDnsLabel, isDnsSubdomain, SYSTEM_NAMESPACES } from "../shared/names";
import { parseConfiguredRegistry, type RegistryHost } from "../formats/registry-host";
import { parseLabelSelector } from "../formats/label-selector";
import { parseProbeImage, type ProbeImage } from "../formats/image-reference";
import { checkRegion } from "../formats/region";
import { unknownVariableWarnings } from "./env-names";

export const OWNERSHIP_TAG_KEY = "ecr-token-rotator:managed";
export const OWNERSHIP_TAG_VALUE = "true";
export const DEFAULT_SECRET_NAME = "ecr/{account}/{region}/credentials";
/** The debounce window is at most an hour: a longer one would keep a token far into its 12 h life. */
export const MAX_WRITE_DEBOUNCE_SECONDS = 3600;

export interface RotationConfig {
  /** Registries to keep fresh; empty = the function's own account in `defaultRegion`. */
  registries: RegistryHost[];
  /** Secrets Manager secret name; may hold `{account}` and `{region}`. */
  secretNameTemplate: string;
  combinedSecretName: string | undefined;
  kmsKeyId: string | undefined;
  secretTags: Record<string, string>;
  adoptExistingSecret: boolean;
  /**
   * A fetched token with less validity than this is refused, and the debounce never keeps a
   * stored token with less validity than this (TOKEN_MIN_VALIDITY_MINUTES).
   */
  minTokenValiditySeconds: number;
  /** No new secret version when the stored one is younger than this (unless forced, or its token is too close to expiry); ≤ 1 h. */
  writeDebounceSeconds: number;
  /** Region of the function (AWS_REGION), used for the default registry. */
  defaultRegion: string | undefined;
  /**
   * SECRET_READERS: IAM principal ARNs allowed to read the product's secrets from other
   * accounts (account IDs are turned into `arn:<partition>:iam::<id>:root`); empty = no
   * resource policy is managed.
   */
  secretReaders: string[];
  /** SECRET_REPLICA_REGIONS: regions every owned secret is replicated to, each with an optional KMS key. */
  replicaRegions: ReplicaRegion[];
}

export interface ReplicaRegion {
  region: string;
  /** KMS key of the replica (a key ARN in that region); absent = aws/secretsmanager there. */
  kmsKeyId?: string;
}

type Env = Record<string, string | undefined>;

const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@{}-]+$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Collects problems while reading variables, so all of them are reported together. */
export class EnvReader {
  readonly problems: string[] = [];
  /** Every variable name the configuration reads (set or not): the product's variables. */
  readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }

  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    this.problem(`${name}=${showValue(value)}: expected true or false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problem(`${name}=${showValue(value)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  /**
   * A comma-separated list. With `noSpaces` (lists of names), an item holding spaces is reported
   * with a hint to use commas, and split on the spaces so each part is still checked.
   */
  list(name: string, options: { noSpaces?: boolean } = {}): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const items = value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    if (!options.noSpaces) return items;
    return items.flatMap((item) => {
      if (!/\s/.test(item)) return [item];
      const parts = item.split(/\s+/);
      this.problems.push(`${name}: ${JSON.stringify(item)} looks space-separated: separate the items with commas (${parts.join(",")})`);
      return parts;
    });
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(`${name}=${showValue(value)}: expected one of ${allowed.join(", ")}`);
    return fallback;
  }

  /** Records a problem; a part of it that looks like a credential is replaced by its length. */
  problem(message: string): void {
    this.problems.push(withoutCredentials(message));
  }
}

export function renderSecretName(template: string, registry: Pick<RegistryHost, "accountId" | "region">): string {
  return template.replaceAll("{account}", registry.accountId).replaceAll("{region}", registry.region);
}

function parseTags(reader: EnvReader): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of reader.list("SECRET_TAGS")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (eq < 0 || !TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      reader.problem(`SECRET_TAGS: ${JSON.stringify(item)} is not a valid key=value tag`);
      continue;
    }
    if (key.toLowerCase().startsWith("aws:")) {
      reader.problem(`SECRET_TAGS: tag key ${JSON.stringify(key)} uses the reserved aws: prefix`);
      continue;
    }
    if (key === OWNERSHIP_TAG_KEY) {
      reader.problem(`SECRET_TAGS: ${OWNERSHIP_TAG_KEY} is set by the product itself`);
      continue;
    }
    tags[key] = value;
  }
  return tags;
}

function checkSecretName(reader: EnvReader, variable: string, name: string): void {
  if (name.length > 512 || !SECRET_NAME_CHARS.test(name)) {
    reader.problem(`${variable}=${JSON.stringify(name)}: a secret name has 1-512 of the characters A-Z a-z 0-9 / _ + = . @ -`);
  }
  const unknown = name.match(/\{[^}]*\}/g)?.filter((p) => p !== "{account}" && p !== "{region}") ?? [];
  if (unknown.length > 0) reader.problem(`${variable}: unknown placeholder ${unknown.join(", ")} (only {account} and {region})`);
}

const ACCOUNT_ID = /^\d{12}$/;
/** IAM principals a resource policy can name: an account root, a role or a user (with path). */
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)\/([\x21-\x7e]+\/)?[\w+=,.@-]{1,128})$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/;

/** SECRET_READERS: principal ARNs or account IDs; they need a customer-managed key (KMS_KEY_ID). */
function readSecretReaders(reader: EnvReader, kmsKeyId: string | undefined): string[] {
  const readers: string[] = [];
  for (const item of reader.list("SECRET_READERS")) {
    if (ACCOUNT_ID.test(item) || PRINCIPAL_ARN.test(item)) {
      if (!readers.includes(item)) readers.push(item);
    } else if (/^arn:aws[a-z-]*:sts::/.test(item)) {
      reader.problem(`SECRET_READERS: ${JSON.stringify(item)} is an STS session ARN; name the IAM role (arn:aws:iam::<account>:role/<name>)`);
    } else {
      reader.problem(
        `SECRET_READERS: ${JSON.stringify(item)} is neither a 12-digit account ID nor an IAM principal ARN (arn:aws:iam::<account>:root, :role/<name> or :user/<name>)`,
      );
    }
  }
  if (readers.length > 0 && (kmsKeyId === undefined || /(^|:)alias\/aws\/secretsmanager$/.test(kmsKeyId))) {
    reader.problem(
      "SECRET_READERS is set but KMS_KEY_ID " +
        (kmsKeyId === undefined ? "is not" : "names the AWS managed key") +
        ": secrets encrypted with the AWS managed key aws/secretsmanager cannot be read from other accounts; " +
        "set KMS_KEY_ID to a customer-managed KMS key (its full key ARN) whose key policy lets the readers call kms:Decrypt",
    );
  }
  return readers;
}

/** SECRET_REPLICA_REGIONS: `region[:kmsKeyArn]`, comma-separated. */
function readReplicaRegions(reader: EnvReader, primaryRegion: string | undefined): ReplicaRegion[] {
  const replicas: ReplicaRegion[] = [];
  for (const item of reader.list("SECRET_REPLICA_REGIONS")) {
    const colon = item.indexOf(":");
    const region = colon < 0 ? item : item.slice(0, colon);
    const kmsKeyId = colon < 0 ? undefined : item.slice(colon + 1);
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
      reader.problem(`SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: ${JSON.stringify(region)} is not an AWS region (write region or region:kmsKeyArn)`);
      continue;
    }
    if (kmsKeyId !== undefined) {
      const match = KMS_KEY_ARN.exec(kmsKeyId);
      if (match === null) {
        reader.problem(`SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: the replica's key must be a KMS key ARN (arn:aws:kms:${region}:<account>:key/<id>)`);
        continue;
      }
      if (match[1] !== region) {
        reader.problem(
          `SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: the key is in ${match[1]}, the replica in ${region}; a replica is encrypted with a key of its own region`,
        );
        continue;
      }
    }
    if (region === primaryRegion) {
      reader.problem(`SECRET_REPLICA_REGIONS: ${region} is the secrets' own region (AWS_REGION), not a replica region`);
      continue;
    }
    if (replicas.some((r) => r.region === region)) {
      reader.problem(`SECRET_REPLICA_REGIONS: ${region} is listed twice`);
      continue;
    }
    replicas.push(kmsKeyId === undefined ? { region } : { region, kmsKeyId });
  }
  return replicas;
}

/** Reads the rotation part of the configuration, appending problems to `reader`. */
export function readRotationConfig(reader: EnvReader, needsRegion = true): RotationConfig {
  const registries: RegistryHost[] = [];
  const seen = new Set<string>();
  const listed = reader.list("ECR_REGISTRIES", { noSpaces: true });
  for (const item of listed) {
    try {
      const registry = parseConfiguredRegistry(item);
      const region = checkRegion(registry.region);
      if (!region.ok) {
        reader.problem(`ECR_REGISTRIES: ${registry.host}: ${region.problem}`);
        continue;
      }
      if (seen.has(registry.host)) reader.problem(`ECR_REGISTRIES: ${registry.host} is listed twice`);
      seen.add(registry.host);
      registries.push(registry);
    } catch (error) {
      reader.problem(`ECR_REGISTRIES: ${(error as Error).message}`);
    }
  }

  const secretNameTemplate = reader.string("SECRET_NAME", DEFAULT_SECRET_NAME)!;
  checkSecretName(reader, "SECRET_NAME", secretNameTemplate);
  if (registries.length > 1) {
    const names = new Map<string, string>();
    for (const registry of registries) {
      const name = renderSecretName(secretNameTemplate, registry);
      const other = names.get(name);
      if (other !== undefined) {
        reader.problem(
          `SECRET_NAME=${JSON.stringify(secretNameTemplate)} gives ${other} and ${registry.host} the same secret ${JSON.stringify(name)}: ` +
            "with several registries it must contain {account} and/or {region}, e.g. ecr/{account}/{region}/credentials",
        );
        break;
      }
      names.set(name, registry.host);
    }
  }

  const combinedSecretName = reader.string("COMBINED_SECRET_NAME");
  if (combinedSecretName !== undefined) {
    checkSecretName(reader, "COMBINED_SECRET_NAME", combinedSecretName);
    if (/[{}]/.test(combinedSecretName)) reader.problem("COMBINED_SECRET_NAME: placeholders are not allowed in the combined secret's name");
    const clash = registries.find((r) => renderSecretName(secretNameTemplate, r) === combinedSecretName);
    if (clash !== undefined || (registries.length === 0 && !/[{}]/.test(secretNameTemplate) && secretNameTemplate === combinedSecretName)) {
      reader.problem(
        `COMBINED_SECRET_NAME=${JSON.stringify(combinedSecretName)} is also the secret of ${clash?.host ?? "the default registry"} (SECRET_NAME): one secret cannot hold both formats`,
      );
    }
  }

  const kmsKeyId = reader.string("KMS_KEY_ID");
  if (kmsKeyId !== undefined && !/^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+|alias\/.+|[0-9a-f-]{36}|mrk-[0-9a-f]{32})$/.test(kmsKeyId)) {
    reader.problem(`KMS_KEY_ID=${JSON.stringify(kmsKeyId)}: expected a key ARN, key id, alias/NAME or alias ARN`);
  }

  const regionVariable = reader.string("AWS_REGION") !== undefined ? "AWS_REGION" : "AWS_DEFAULT_REGION";
  const defaultRegion = reader.string("AWS_REGION") ?? reader.string("AWS_DEFAULT_REGION");
  if (defaultRegion !== undefined) {
    const region = checkRegion(defaultRegion);
    if (!region.ok) reader.problem(`${regionVariable}: ${region.problem}`);
  } else if (needsRegion) {
    reader.problem(
      listed.length === 0
        ? "AWS_REGION is not set: it is the region of the secrets (Secrets Manager) and, with ECR_REGISTRIES empty, of the default registry (the function's own account in AWS_REGION)"
        : "AWS_REGION is not set: it is the region of Secrets Manager, where the secrets are written (the Lambda runtime sets it; on a laptop export it, or use --function NAME)",
    );
  }

  const secretReaders = readSecretReaders(reader, kmsKeyId);
  const replicaRegions = readReplicaRegions(reader, defaultRegion);

  return {
    registries,
    secretNameTemplate,
    combinedSecretName,
    kmsKeyId,
    secretReaders,
    replicaRegions,
    secretTags: parseTags(reader),
    adoptExistingSecret: reader.boolean("ADOPT_EXISTING_SECRET", false),
    minTokenValiditySeconds: reader.integer("TOKEN_MIN_VALIDITY_MINUTES", 60, 0, 11 * 60) * 60,
    writeDebounceSeconds: reader.integer("WRITE_DEBOUNCE_SECONDS", 600, 0, MAX_WRITE_DEBOUNCE_SECONDS),
    defaultRegion,
  };
}

export type FallbackMode = "off" | "on-heal" | "always";

export interface ClusterConfig {
  name: string;
  region: string;
  /** API endpoint override (private DNS, a proxy, the test bed); with caData, DescribeCluster is skipped. */
  endpoint?: string;
  /** Base64 PEM CA bundle, as EKS returns it; without it, DescribeCluster supplies the CA. */
  caData?: string;
  /** A cluster in another account: the role assumed for DescribeCluster and the bearer token. */
  assumeRole?: AssumeRoleConfig;
}

export interface AssumeRoleConfig {
  roleArn: string;
  externalId?: string;
  /** Session name (CloudTrail shows it); default {@link DEFAULT_SESSION_NAME}. */
  sessionName: string;
}

export const DEFAULT_SESSION_NAME = "ecr-token-rotator";
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/([\x21-\x7e]+\/)?[\w+=,.@-]{1,64}$/;

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

export type ConfiguredNamespaces = { mode: "list"; names: string[] } | { mode: "selector"; labelSelector: string } | { mode: "all"; exclude: string[] };

export interface KubernetesConfig {
  clusters: ClusterConfig[];
  fallbackMode: FallbackMode;
  namespaces: ConfiguredNamespaces;
  pullSecretName: string;
  patchServiceAccounts: string[];
  /** Label selector of ExternalSecrets to re-sync ("" = all); undefined = off. */
  esoResyncSelector: string | undefined;
  concurrency: number;
  /** Clusters worked on at once by a heal/refresh/diagnosis of several clusters (a global cap). */
  clusterConcurrency: number;
  adoptExistingPullSecrets: boolean;
  /** HTTP adapter of the apply engine: node:https (default, lean) or @kubernetes/client-node. */
  client: "https" | "client-node";
}

/** The problem with a label selector (Kubernetes syntax), or undefined when it parses. */
function selectorProblem(selector: string): string | undefined {
  try {
    parseLabelSelector(selector);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^invalid label selector "(?:[^"\\]|\\.)*": /, "");
  }
}
export const DEFAULT_EXCLUDED_NAMESPACES: string[] = [...SYSTEM_NAMESPACES];

const CLUSTERS_EXAMPLE =
  'us-east-1:prod,eu-west-1:staging, or a cluster ARN arn:aws:eks:us-east-1:123456789012:cluster/prod, or JSON [{"name":"prod","region":"us-east-1"}]';
const CLUSTER_ARN = /^arn:(aws[a-z-]*):eks:([^:]*):(\d{12})?:cluster\/(.*)$/;

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

function readClusters(reader: EnvReader, defaultRegion: string | undefined): ClusterConfig[] {
  const raw = reader.raw("EKS_CLUSTERS");
  if (raw === undefined) return [];
  const items = clusterEntries(reader, raw);
  if (items === undefined) return [];
  const clusters: ClusterConfig[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    let cluster: ClusterConfig | undefined;
    if (typeof item === "string") {
      cluster = stringCluster(reader, item.trim(), defaultRegion);
    } else if (typeof item === "object" && item !== null && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      const unknownKeys = Object.keys(o).filter((k) => !["name", "region", "endpoint", "caData", "roleArn", "externalId", "sessionName"].includes(k));
      if (unknownKeys.length > 0)
        reader.problem(
          `EKS_CLUSTERS: unknown field ${unknownKeys.map((k) => JSON.stringify(k)).join(", ")} (allowed: name, region, endpoint, caData, roleArn, externalId, sessionName)`,
        );
      const region = typeof o.region === "string" ? o.region : defaultRegion;
      if (typeof o.name !== "string" || region === undefined) {
        reader.problem(
          `EKS_CLUSTERS: every entry needs a string name (and a region, or AWS_REGION), e.g. {"name":"prod","region":"us-east-1"}; got ${JSON.stringify(o).slice(0, 80)}`,
        );
        continue;
      }
      cluster = { name: o.name, region };
      if (o.endpoint !== undefined) {
        if (typeof o.endpoint !== "string" || !/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(o.endpoint)) {
          reader.problem(`EKS_CLUSTERS: cluster ${o.name}: endpoint must be an https:// URL with no path`);
        } else cluster.endpoint = o.endpoint.replace(/\/$/, "");
      }
      // caData alone or with endpoint; an endpoint alone takes the CA from DescribeCluster.
      if (o.caData !== undefined) {
        if (
          typeof o.caData !== "string" ||
          !/^[A-Za-z0-9+/=\s]+$/.test(o.caData) ||
          !Buffer.from(o.caData, "base64").toString("utf8").includes("BEGIN CERTIFICATE")
        ) {
          reader.problem(`EKS_CLUSTERS: cluster ${o.name}: caData must be a base64 PEM CA bundle (as EKS returns it)`);
        } else cluster.caData = o.caData.replace(/\s+/g, "");
      }
      const assumeRole = readAssumeRole(reader, o.name, o);
      if (assumeRole !== undefined) cluster.assumeRole = assumeRole;
    } else {
      reader.problem(`EKS_CLUSTERS: entries must be region:name strings, cluster ARNs or objects; expected e.g. ${CLUSTERS_EXAMPLE}`);
      continue;
    }
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

function readNamespaces(reader: EnvReader): ConfiguredNamespaces {
  const target = reader.list("TARGET_NAMESPACES", { noSpaces: true });
  const selector = reader.raw("NAMESPACE_SELECTOR");
  const exclude = reader.list("EXCLUDE_NAMESPACES", { noSpaces: true });
  for (const name of [...target.filter((t) => t !== "*"), ...exclude]) {
    if (!isDnsLabel(name)) reader.problem(`TARGET_NAMESPACES/EXCLUDE_NAMESPACES: ${JSON.stringify(name)} is not a valid namespace name`);
  }
  const bad = selector === undefined ? undefined : selectorProblem(selector);
  if (bad !== undefined) reader.problem(`NAMESPACE_SELECTOR=${showValue(selector!)}: not a label selector (${bad}); e.g. team=a,tier in (web,api)`);
  const all = target.length === 1 && target[0] === "*";
  if (target.includes("*") && !all) reader.problem('TARGET_NAMESPACES: "*" must stand alone');
  if (selector !== undefined && target.length > 0) reader.problem("TARGET_NAMESPACES and NAMESPACE_SELECTOR: set one, not both");
  if (exclude.length > 0 && (selector !== undefined || (target.length > 0 && !all))) {
    reader.problem('EXCLUDE_NAMESPACES applies only to TARGET_NAMESPACES="*" (or the default, all namespaces)');
  }
  if (selector !== undefined) return { mode: "selector", labelSelector: selector };
  if (target.length > 0 && !all) return { mode: "list", names: [...new Set(target)] };
  return { mode: "all", exclude: exclude.length > 0 ? exclude : DEFAULT_EXCLUDED_NAMESPACES };
}

export function readKubernetesConfig(reader: EnvReader, defaultRegion: string | undefined): KubernetesConfig {
  const clusters = readClusters(reader, defaultRegion);
  const pullSecretName = reader.string("PULL_SECRET_NAME", "ecr-pull-secret")!;
  if (!isDnsSubdomain(pullSecretName)) reader.problem(`PULL_SECRET_NAME=${JSON.stringify(pullSecretName)}: not a valid Secret name (lower-case DNS subdomain)`);
  const patchServiceAccounts = [...new Set(reader.list("PATCH_SERVICE_ACCOUNTS", { noSpaces: true }))];
  for (const sa of patchServiceAccounts)
    if (!isDnsSubdomain(sa)) reader.problem(`PATCH_SERVICE_ACCOUNTS: ${JSON.stringify(sa)} is not a valid ServiceAccount name`);
  const eso = reader.raw("ESO_RESYNC");
  let esoResyncSelector: string | undefined;
  if (eso !== undefined && !/^(off|false|none)$/i.test(eso)) {
    if (eso === "*" || /^(all|true)$/i.test(eso)) esoResyncSelector = "";
    else {
      const bad = selectorProblem(eso);
      if (bad === undefined) esoResyncSelector = eso;
      else reader.problem(`ESO_RESYNC=${showValue(eso)}: expected a label selector (${bad}), "*" for all ExternalSecrets, or off`);
    }
  }
  return {
    clusters,
    fallbackMode: reader.oneOf("FALLBACK_MODE", ["off", "on-heal", "always"] as const, "on-heal"),
    namespaces: readNamespaces(reader),
    pullSecretName,
    patchServiceAccounts,
    esoResyncSelector,
    concurrency: reader.integer("KUBE_CONCURRENCY", 16, 1, 64),
    clusterConcurrency: reader.integer("KUBE_CLUSTER_CONCURRENCY", 4, 1, 32),
    adoptExistingPullSecrets: reader.boolean("ADOPT_EXISTING_PULL_SECRETS", false),
    client: reader.oneOf("KUBE_CLIENT", ["https", "client-node"] as const, "https"),
  };
}

export interface Config {
  rotation: RotationConfig;
  kubernetes: KubernetesConfig;
  /** PROBE_IMAGE: the image the doctor asks every configured registry for (pull rights); absent = not probed. */
  probeImage?: ProbeImage | undefined;
  /** Not errors, but probably mistakes (a variable the product does not read, e.g. ECR_REGISTRY). */
  warnings?: string[];
}

export interface LoadOptions {
  /**
   * What the run will do: "rotate" (rotate, heal, any Lambda event: Secrets Manager needs
   * AWS_REGION) or "diagnose" (reads clusters only: no AWS_REGION needed when every cluster names its region).
   */
  purpose?: "rotate" | "diagnose";
}

/** Validates the whole configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const reader = new EnvReader(env);
  const rotation = readRotationConfig(reader, options.purpose !== "diagnose");
  const kubernetes = readKubernetesConfig(reader, rotation.defaultRegion);
  const probeImage = readProbeImage(reader);
  const warnings = unknownVariableWarnings(env, [...reader.names]);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems, warnings);
  return { rotation, kubernetes, ...(probeImage ? { probeImage } : {}), ...(warnings.length > 0 ? { warnings } : {}) };
}

/** PROBE_IMAGE (`repository:tag` or `repository@sha256:…`, no host): read by every action, used by the doctor. */
function readProbeImage(reader: EnvReader): ProbeImage | undefined {
  const value = reader.raw("PROBE_IMAGE");
  if (value === undefined) return undefined;
  try {
    return parseProbeImage(value);
  } catch (error) {
    reader.problem(`PROBE_IMAGE: ${(error as Error).message}`);
    return undefined;
  }
}

/** Every variable the configuration reads (the product's variables). */
export function configVariableNames(): string[] {
  const reader = new EnvReader({});
  readKubernetesConfig(reader, readRotationConfig(reader, false).defaultRegion);
  readProbeImage(reader);
  return [...reader.names];
}
