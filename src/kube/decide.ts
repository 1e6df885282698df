/**
 * Per-namespace decisions (pure): what to do with the pull Secret and the ServiceAccounts,
 * given what the cluster-wide LISTs returned. No I/O here.
 */
import { conflictResolution } from "../shared/next-step";
import { DockerConfigError, mergeDockerConfig, parseDockerConfig, serializeDockerConfig, type DockerConfig, type RegistryLogin } from "../formats/dockerconfig";
import type { KubeSecret, KubeServiceAccount, MergePatch } from "./types";

export const DOCKERCONFIGJSON_TYPE = "kubernetes.io/dockerconfigjson";
export const DOCKERCONFIGJSON_KEY = ".dockerconfigjson";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "ecr-token-rotator";

/** ESO's label on the Secrets it manages (`creationPolicy: Owner` also sets an owner reference). */
export const ESO_MANAGED_LABEL = "reconcile.external-secrets.io/managed";
export const EXTERNAL_SECRET_KIND = "ExternalSecret";

/**
 * Whether External Secrets Operator owns a Secret: an owner reference of kind ExternalSecret
 * (group external-secrets.io), or ESO's `reconcile.external-secrets.io/managed: "true"` label.
 * `owner` is the ExternalSecret's name when an owner reference names it.
 */
export function esoOwnership(secret: KubeSecret): { owner?: string } | undefined {
  const ref = (secret.metadata.ownerReferences ?? []).find(
    (r) => r.kind === EXTERNAL_SECRET_KIND && (r.apiVersion === undefined || r.apiVersion.startsWith("external-secrets.io/")),
  );
  if (ref) return ref.name ? { owner: ref.name } : {};
  if (secret.metadata.labels?.[ESO_MANAGED_LABEL] === "true") return {};
  return undefined;
}

/**
 * A Secret that looks ESO-managed (its label, or an owner reference) without a live owner: no
 * ExternalSecret in the namespace writes it (label only), or the ExternalSecret its owner
 * reference names does not exist. Nobody keeps it fresh, and it is not the product's: a
 * conflict, reported (never a silent stand-down), left untouched.
 */
export function esoWithoutOwnerReason(namespace: string, name: string, owner: string | undefined): string {
  const what = owner
    ? `is owned by ExternalSecret ${namespace}/${owner}, which does not exist`
    : `is labelled ${ESO_MANAGED_LABEL}=true but no ExternalSecret in the namespace writes it`;
  return `Secret ${namespace}/${name} ${what}: no live ESO owner keeps it fresh; left untouched; create its ExternalSecret, or remove ESO's label and owner reference, or ${conflictResolution(namespace, name, "invalid").replace(/^to resolve: /, "")}`;
}

export type SecretDecision =
  | { action: "create"; body: KubeSecret }
  /** ESO owns the Secret: never written; its ExternalSecret is asked to re-sync instead. */
  | { action: "eso-managed"; owner?: string }
  | { action: "update"; patch: MergePatch; adopted: boolean; replacedInvalid: boolean }
  | { action: "unchanged" }
  | { action: "conflict"; reason: string }
  /** The existing content cannot be merged safely (a DockerConfigError, e.g. a `__proto__` key): never written; the namespace fails. */
  | { action: "refused"; reason: string };

/**
 * What the decision needs to know about an existing Secret, without its content: the engine
 * summarises each Secret as its LIST page arrives and drops the page, so a 1,000-namespace run
 * does not keep 1,000 copies of the docker config in memory.
 */
export interface SecretSummary {
  type: string;
  resourceVersion?: string;
  managed: boolean;
  /** Set when External Secrets Operator owns the Secret (see esoOwnership). */
  eso?: { owner?: string };
  /**
   * `absent`: no `.dockerconfigjson` key; `invalid`: not a docker config (replaced when ours);
   * `refused`: a docker config that cannot be merged safely (`refusal` says why; never written).
   */
  content: "absent" | "invalid" | "valid" | "refused";
  refusal?: string;
  /**
   * The existing config minus our registries' entries (other registries, other keys); absent
   * when nothing else is in it (the usual case: one small summary per namespace).
   */
  foreign?: DockerConfig;
  /** Every one of our registries already has exactly the entry we would write. */
  oursCurrent: boolean;
}

/**
 * `withdraw`: hosts whose entry must go (ECR Public whose refresh failed): they count as ours,
 * not foreign, and a Secret still holding one is not current.
 */
export function summarizeSecret(secret: KubeSecret, logins: readonly RegistryLogin[], withdraw: readonly string[] = []): SecretSummary {
  const summary: SecretSummary = {
    type: secret.type ?? "Opaque",
    managed: isManaged(secret),
    content: "absent",
    oursCurrent: false,
  };
  if (secret.metadata.resourceVersion) summary.resourceVersion = secret.metadata.resourceVersion;
  const eso = esoOwnership(secret);
  if (eso) {
    // Never written: its content does not matter here.
    summary.eso = eso;
    return summary;
  }
  if (secret.data?.[DOCKERCONFIGJSON_KEY] === undefined) return summary;
  const { config: current, error } = readDockerConfig(secret);
  if (error?.problem === "reserved-key") {
    summary.content = "refused";
    summary.refusal = `${error.name}: ${error.message}`;
    return summary;
  }
  if (!current) {
    summary.content = "invalid";
    return summary;
  }
  summary.content = "valid";
  const ours = mergeDockerConfig(undefined, logins).auths;
  summary.oursCurrent =
    Object.entries(ours).every(([host, entry]) => jsonEqual(current.auths[host], entry)) && withdraw.every((host) => !(host in current.auths));
  const foreignAuths: DockerConfig["auths"] = {};
  for (const [host, entry] of Object.entries(current.auths)) if (!(host in ours) && !withdraw.includes(host)) foreignAuths[host] = entry;
  const foreign = { ...current, auths: foreignAuths };
  if (Object.keys(foreignAuths).length > 0 || Object.keys(foreign).length > 1) summary.foreign = foreign;
  return summary;
}

export interface SecretDecisionInput {
  namespace: string;
  name: string;
  /** The Secret as listed/read (or its summary), undefined when it does not exist. */
  existing: KubeSecret | SecretSummary | undefined;
  logins: readonly RegistryLogin[];
  /** Hosts whose entry is removed (see summarizeSecret). */
  withdraw?: readonly string[];
  adoptUnmanaged: boolean;
  /**
   * Encodes the merged config for `data[.dockerconfigjson]`; the engine passes a memoised one
   * (namespaces without foreign entries share one string). Default: base64 of the JSON.
   */
  encode?: (merged: DockerConfig, foreign: DockerConfig | undefined) => string;
}

export function isManaged(secret: KubeSecret): boolean {
  return secret.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

function encode(config: DockerConfig): string {
  return Buffer.from(serializeDockerConfig(config), "utf8").toString("base64");
}

/** Key-order-insensitive deep equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** The existing docker config of a Secret, or why it is not one (never throws). */
function readDockerConfig(secret: KubeSecret): { config?: DockerConfig; error?: DockerConfigError } {
  const encoded = secret.data?.[DOCKERCONFIGJSON_KEY];
  if (typeof encoded !== "string") return {};
  try {
    return { config: parseDockerConfig(Buffer.from(encoded, "base64").toString("utf8")) };
  } catch (error) {
    return error instanceof DockerConfigError ? { error } : {};
  }
}

/** The existing docker config of a Secret, or undefined when absent/unreadable (never throws). */
export function existingDockerConfig(secret: KubeSecret): DockerConfig | undefined {
  return readDockerConfig(secret).config;
}

const isSummary = (x: KubeSecret | SecretSummary): x is SecretSummary => "content" in x && "oursCurrent" in x;

export function decideSecret(input: SecretDecisionInput): SecretDecision {
  const { namespace, name, logins } = input;
  const toData = input.encode ?? encode;
  if (!input.existing) {
    return {
      action: "create",
      body: {
        metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
        type: DOCKERCONFIGJSON_TYPE,
        data: { [DOCKERCONFIGJSON_KEY]: toData(mergeDockerConfig(undefined, logins), undefined) },
      },
    };
  }
  const existing = isSummary(input.existing) ? input.existing : summarizeSecret(input.existing, logins, input.withdraw);
  // Two writers must never fight over one Secret: what ESO owns, ESO writes (whatever its type
  // or labels, and even with adoptUnmanaged).
  if (existing.eso) return { action: "eso-managed", ...(existing.eso.owner ? { owner: existing.eso.owner } : {}) };
  if (existing.type !== DOCKERCONFIGJSON_TYPE) {
    return {
      action: "conflict",
      reason: `Secret ${namespace}/${name} has type ${existing.type}, not ${DOCKERCONFIGJSON_TYPE}; left untouched; ${conflictResolution(namespace, name, "wrong-type")}`,
    };
  }
  if (existing.content === "refused") {
    return { action: "refused", reason: `Secret ${namespace}/${name}: ${existing.refusal ?? "its docker config cannot be merged safely"}; left untouched` };
  }
  if (!existing.managed && !input.adoptUnmanaged) {
    return {
      action: "conflict",
      reason: `Secret ${namespace}/${name} is not labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} (someone else manages it); left untouched; ${conflictResolution(namespace, name, "foreign")}`,
    };
  }
  if (existing.content === "invalid" && !existing.managed) {
    return {
      action: "conflict",
      reason: `Secret ${namespace}/${name} does not hold a valid docker config; not adopted, left untouched; ${conflictResolution(namespace, name, "invalid")}`,
    };
  }
  if (existing.managed && existing.content === "valid" && existing.oursCurrent) return { action: "unchanged" };
  const merged = mergeDockerConfig(existing.foreign, logins);
  const metadata: Record<string, unknown> = { labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } };
  // Optimistic concurrency: the merge patch carries the resourceVersion we read, the API server
  // answers 409 if the Secret changed since (then we re-read and decide again).
  if (existing.resourceVersion) metadata.resourceVersion = existing.resourceVersion;
  return {
    action: "update",
    patch: { metadata, data: { [DOCKERCONFIGJSON_KEY]: toData(merged, existing.foreign) } },
    adopted: !existing.managed,
    replacedInvalid: existing.content !== "valid",
  };
}

export type ServiceAccountDecision =
  | { action: "patch"; patch: MergePatch }
  | { action: "unchanged" }
  | { action: "missing" }
  /** `imagePullSecrets` is not a list of references: never patched (the merge patch would replace it). */
  | { action: "invalid"; reason: string };

/** Why a ServiceAccount's `imagePullSecrets` cannot be extended, or undefined when it is a list of references. */
function invalidPullSecrets(sa: KubeServiceAccount): string | undefined {
  const list: unknown = sa.imagePullSecrets;
  if (list === undefined || list === null) return undefined;
  const where = `ServiceAccount ${sa.metadata.namespace ?? "?"}/${sa.metadata.name}`;
  if (!Array.isArray(list))
    return `InvalidServiceAccountError: ${where} has imagePullSecrets that is not a list (${list === null ? "null" : typeof list}); not patched`;
  const bad = list.findIndex((ref: unknown) => typeof ref !== "object" || ref === null || Array.isArray(ref));
  return bad < 0 ? undefined : `InvalidServiceAccountError: ${where} has imagePullSecrets[${bad}] that is not a reference ({name}); not patched`;
}

/**
 * Adds `{name: pullSecretName}` to `imagePullSecrets`, keeping every existing entry in order.
 * `imagePullSecrets` has no strategic-merge key, so the merge patch carries the whole list and
 * the resourceVersion read (409 if someone changed the list meanwhile).
 */
export function decideServiceAccount(sa: KubeServiceAccount | undefined, pullSecretName: string): ServiceAccountDecision {
  if (!sa) return { action: "missing" };
  const invalid = invalidPullSecrets(sa);
  if (invalid !== undefined) return { action: "invalid", reason: invalid };
  const current = sa.imagePullSecrets ?? [];
  if (current.some((ref) => ref.name === pullSecretName)) return { action: "unchanged" };
  const metadata: Record<string, unknown> = {};
  if (sa.metadata.resourceVersion) metadata.resourceVersion = sa.metadata.resourceVersion;
  return { action: "patch", patch: { metadata, imagePullSecrets: [...current, { name: pullSecretName }] } };
}

/**
 * Merge patch that makes ESO re-sync every ExternalSecret a ClusterExternalSecret owns: its
 * controller copies spec.externalSecretMetadata.annotations to each child (and resets any
 * annotation set on a child directly, so annotating the children is not reliable).
 */
export function clusterForceSyncPatch(now: Date): MergePatch {
  return { spec: { externalSecretMetadata: { annotations: { "force-sync": String(Math.floor(now.getTime() / 1000)) } } } };
}

/** Merge patch that makes ESO re-sync an ExternalSecret now. */
export function forceSyncPatch(now: Date): MergePatch {
  return { metadata: { annotations: { "force-sync": String(Math.floor(now.getTime() / 1000)) } } };
}
