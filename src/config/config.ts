/**
 * Configuration from environment variables, validated once. Every bad variable is reported at
 * once in a single ConfigError. The table in README.md documents each variable.
 *
 * Over 300 lines on purpose: one reader and one validation pass for every variable, in the order
 * of README's configuration table, so the two can be compared side by side.
 */
import { ConfigError } from "../shared/errors";
import { EKS_CLUSTER_NAME, isAwsRegion, isDnsLabel, isDnsSubdomain, SYSTEM_NAMESPACES } from "../shared/names";
import { parseRegistryHost, type RegistryHost } from "../formats/registry-host";

export const OWNERSHIP_TAG_KEY = "ecr-token-rotator:managed";
export const OWNERSHIP_TAG_VALUE = "true";
export const DEFAULT_SECRET_NAME = "ecr/{account}/{region}/credentials";

export interface RotationConfig {
  /** Registries to keep fresh; empty = the function's own account in `defaultRegion`. */
  registries: RegistryHost[];
  /** Secrets Manager secret name; may hold `{account}` and `{region}`. */
  secretNameTemplate: string;
  combinedSecretName: string | undefined;
  kmsKeyId: string | undefined;
  secretTags: Record<string, string>;
  adoptExistingSecret: boolean;
  /** A token with less validity than this is refused. */
  minTokenValiditySeconds: number;
  /** No new secret version when the stored one is younger than this (unless forced). */
  writeDebounceSeconds: number;
  /** Region of the function (AWS_REGION), used for the default registry. */
  defaultRegion: string | undefined;
}

type Env = Record<string, string | undefined>;

const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@{}-]+$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Collects problems while reading variables, so all of them are reported together. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
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
    this.problems.push(`${name}=${JSON.stringify(value)}: expected true or false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name}=${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name}=${JSON.stringify(value)}: expected one of ${allowed.join(", ")}`);
    return fallback;
  }

  problem(message: string): void {
    this.problems.push(message);
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

/** Reads the rotation part of the configuration, appending problems to `reader`. */
export function readRotationConfig(reader: EnvReader): RotationConfig {
  const registries: RegistryHost[] = [];
  const seen = new Set<string>();
  const listed = reader.list("ECR_REGISTRIES");
  for (const item of listed) {
    try {
      const registry = parseRegistryHost(item);
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

  const defaultRegion = reader.string("AWS_REGION") ?? reader.string("AWS_DEFAULT_REGION");
  if (listed.length === 0 && defaultRegion === undefined) {
    reader.problem("ECR_REGISTRIES is empty and AWS_REGION is not set: set one of them (the default registry is the function's own account in AWS_REGION)");
  }

  return {
    registries,
    secretNameTemplate,
    combinedSecretName,
    kmsKeyId,
    secretTags: parseTags(reader),
    adoptExistingSecret: reader.boolean("ADOPT_EXISTING_SECRET", false),
    minTokenValiditySeconds: reader.integer("TOKEN_MIN_VALIDITY_MINUTES", 60, 0, 11 * 60) * 60,
    writeDebounceSeconds: reader.integer("WRITE_DEBOUNCE_SECONDS", 600, 0, 86_400),
    defaultRegion,
  };
}

export type FallbackMode = "off" | "on-heal" | "always";

export interface ClusterConfig {
  name: string;
  region: string;
  /** API endpoint override (private DNS, a proxy, the test bed); skips DescribeCluster with caData. */
  endpoint?: string;
  /** Base64 PEM CA bundle, as EKS returns it; required with `endpoint`. */
  caData?: string;
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
  adoptExistingPullSecrets: boolean;
  /** HTTP adapter of the apply engine: node:https (default, lean) or @kubernetes/client-node. */
  client: "https" | "client-node";
}

const LABEL_SELECTOR = /^[A-Za-z0-9_./,=!()\- ]+$/;
export const DEFAULT_EXCLUDED_NAMESPACES: string[] = [...SYSTEM_NAMESPACES];

function readClusters(reader: EnvReader, defaultRegion: string | undefined): ClusterConfig[] {
  const raw = reader.raw("EKS_CLUSTERS");
  if (raw === undefined) return [];
  let items: unknown[];
  if (raw.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!Array.isArray(parsed)) throw new Error("not an array");
      items = parsed;
    } catch {
      reader.problem('EKS_CLUSTERS: starts with "[" but is not a JSON array of {"name","region"?,"endpoint"?,"caData"?}');
      return [];
    }
  } else {
    items = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  }
  const clusters: ClusterConfig[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    let cluster: ClusterConfig | undefined;
    if (typeof item === "string") {
      const colon = item.indexOf(":");
      const region = colon < 0 ? defaultRegion : item.slice(0, colon);
      const name = colon < 0 ? item : item.slice(colon + 1);
      cluster = region === undefined ? undefined : { name, region };
      if (region === undefined) reader.problem(`EKS_CLUSTERS: ${JSON.stringify(item)} has no region and AWS_REGION is not set (write region:name)`);
    } else if (typeof item === "object" && item !== null && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      const unknownKeys = Object.keys(o).filter((k) => !["name", "region", "endpoint", "caData"].includes(k));
      if (unknownKeys.length > 0)
        reader.problem(`EKS_CLUSTERS: unknown field ${unknownKeys.map((k) => JSON.stringify(k)).join(", ")} (allowed: name, region, endpoint, caData)`);
      const region = typeof o.region === "string" ? o.region : defaultRegion;
      if (typeof o.name !== "string" || region === undefined) {
        reader.problem("EKS_CLUSTERS: every entry needs a string name (and a region, or AWS_REGION)");
        continue;
      }
      cluster = { name: o.name, region };
      if (o.endpoint !== undefined || o.caData !== undefined) {
        if (typeof o.endpoint !== "string" || !/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(o.endpoint)) {
          reader.problem(`EKS_CLUSTERS: cluster ${o.name}: endpoint must be an https:// URL with no path`);
        } else cluster.endpoint = o.endpoint.replace(/\/$/, "");
        if (
          typeof o.caData !== "string" ||
          !/^[A-Za-z0-9+/=\s]+$/.test(o.caData) ||
          !Buffer.from(o.caData, "base64").toString("utf8").includes("BEGIN CERTIFICATE")
        ) {
          reader.problem(`EKS_CLUSTERS: cluster ${o.name}: caData must be a base64 PEM CA bundle (as EKS returns it)`);
        } else cluster.caData = o.caData.replace(/\s+/g, "");
      }
    } else {
      reader.problem("EKS_CLUSTERS: entries must be region:name strings or objects");
      continue;
    }
    if (cluster === undefined) continue;
    if (!EKS_CLUSTER_NAME.test(cluster.name)) reader.problem(`EKS_CLUSTERS: ${JSON.stringify(cluster.name)} is not a valid EKS cluster name`);
    if (!isAwsRegion(cluster.region)) reader.problem(`EKS_CLUSTERS: ${JSON.stringify(cluster.region)} is not an AWS region`);
    const key = `${cluster.region}:${cluster.name}`;
    if (seen.has(key)) reader.problem(`EKS_CLUSTERS: ${key} is listed twice`);
    seen.add(key);
    clusters.push(cluster);
  }
  return clusters;
}

function readNamespaces(reader: EnvReader): ConfiguredNamespaces {
  const target = reader.list("TARGET_NAMESPACES");
  const selector = reader.raw("NAMESPACE_SELECTOR");
  const exclude = reader.list("EXCLUDE_NAMESPACES");
  for (const name of [...target.filter((t) => t !== "*"), ...exclude]) {
    if (!isDnsLabel(name)) reader.problem(`TARGET_NAMESPACES/EXCLUDE_NAMESPACES: ${JSON.stringify(name)} is not a valid namespace name`);
  }
  if (selector !== undefined && !LABEL_SELECTOR.test(selector)) reader.problem(`NAMESPACE_SELECTOR=${JSON.stringify(selector)}: not a label selector`);
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
  const patchServiceAccounts = [...new Set(reader.list("PATCH_SERVICE_ACCOUNTS"))];
  for (const sa of patchServiceAccounts)
    if (!isDnsSubdomain(sa)) reader.problem(`PATCH_SERVICE_ACCOUNTS: ${JSON.stringify(sa)} is not a valid ServiceAccount name`);
  const eso = reader.raw("ESO_RESYNC");
  let esoResyncSelector: string | undefined;
  if (eso !== undefined && !/^(off|false|none)$/i.test(eso)) {
    if (eso === "*" || /^(all|true)$/i.test(eso)) esoResyncSelector = "";
    else if (LABEL_SELECTOR.test(eso)) esoResyncSelector = eso;
    else reader.problem(`ESO_RESYNC=${JSON.stringify(eso)}: expected a label selector, "*" for all ExternalSecrets, or off`);
  }
  return {
    clusters,
    fallbackMode: reader.oneOf("FALLBACK_MODE", ["off", "on-heal", "always"] as const, "on-heal"),
    namespaces: readNamespaces(reader),
    pullSecretName,
    patchServiceAccounts,
    esoResyncSelector,
    concurrency: reader.integer("KUBE_CONCURRENCY", 16, 1, 64),
    adoptExistingPullSecrets: reader.boolean("ADOPT_EXISTING_PULL_SECRETS", false),
    client: reader.oneOf("KUBE_CLIENT", ["https", "client-node"] as const, "https"),
  };
}

export interface Config {
  rotation: RotationConfig;
  kubernetes: KubernetesConfig;
}

/** Validates the whole configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const reader = new EnvReader(env);
  const rotation = readRotationConfig(reader);
  const kubernetes = readKubernetesConfig(reader, rotation.defaultRegion);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return { rotation, kubernetes };
}
