/**
 * The Config type (what the environment variables are validated into) and the constants the
 * rest of the product shares with it: the ownership tag, the default secret name, the default
 * session name, the namespaces excluded by default. Types and constants only.
 */
import { SYSTEM_NAMESPACES } from "../shared/names";
import type { RegistryHost } from "../formats/registry-host";
import type { ProbeImage } from "../formats/image-reference";

export const OWNERSHIP_TAG_KEY = "ecr-token-rotator:managed";
export const OWNERSHIP_TAG_VALUE = "true";
export const DEFAULT_SECRET_NAME = "ecr/{account}/{region}/credentials";
/** The debounce window is at most an hour: a longer one would keep a token far into its 12 h life. */
export const MAX_WRITE_DEBOUNCE_SECONDS = 3600;
/**
 * The debounce window is at least 10 minutes: Secrets Manager removes old versions only above
 * 100 and never one younger than 24 h, so writing more often than every 10 minutes, sustained
 * (an alarm storm), exhausts the secret's version quota. Inside the window only an operator's
 * `force` writes.
 */
export const MIN_WRITE_DEBOUNCE_SECONDS = 600;
export const DEFAULT_SESSION_NAME = "ecr-token-rotator";
export const DEFAULT_EXCLUDED_NAMESPACES: string[] = [...SYSTEM_NAMESPACES];

/** The environment the configuration is read from (process.env, or a function's variables). */
export type Env = Record<string, string | undefined>;

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
  /** RESTART_STUCK_PODS: after a heal, evict the stuck pods its fix cannot reach by itself (off by default). */
  restartStuckPods: boolean;
  /** RESTART_MAX_PODS: at most this many pods restarted per cluster and run (default 20). */
  restartMaxPods: number;
  /** RECORD_EVENTS: heal and diagnose write Kubernetes Events on the stuck pods and the written pull Secrets (on by default). */
  recordEvents: boolean;
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
