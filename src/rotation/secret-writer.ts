/**
 * Writes one product-owned secret: create when missing, refuse foreign or malformed secrets,
 * debounce, skip identical content, idempotent ClientRequestToken. Nothing is written on any
 * refusal; a dry run reads but never writes.
 *
 * The debounce keeps a stored version younger than the window only while the token it holds is
 * valid for at least `minValiditySeconds`: an expired or nearly expired token is replaced
 * whatever its age. A CreateSecret that meets ResourceExistsException (another run created the
 * secret between our read and our create) re-reads the secret and continues from what is there.
 */
import { createHash } from "node:crypto";
import { SecretRefusedError } from "../shared/errors";
import { boundedList } from "../shared/bounded-list";
import { ECR_TOKEN_LIFETIME_SECONDS, EXPIRY_CLOCK_SKEW_SECONDS } from "../shared/names";
import { OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE } from "../config/config";
import { secondsUntil } from "../formats/ecr-token";
import { describeSecretValueProblem, encodeSecretValue, parseSecretValue, secretKindOf, storedExpiry } from "../formats/secret-value";
import type { SecretValue, StoredSecret } from "../formats/secret-value";
import type { ReplicaRegion } from "../config/config";
import type { CurrentSecretValue, SecretDescription, SecretsApi } from "./secrets-manager";

export type WriteOutcome = "created" | "updated" | "unchanged" | "debounced" | "would-create" | "would-update";

export interface SecretWriteRequest {
  name: string;
  /** What to write: a registry secret's value or the combined secret's (its kind follows from it). */
  value: SecretValue;
  /** For a registry secret: the registry host it is stored for (a stored `registry_url` must match). */
  registryHost?: string | undefined;
  /** Wall clock: the debounce compares it with the version's CreatedDate. */
  now: Date;
  /** The instant a stored token's `expires_at` is judged against (defaults to `now`). */
  tokenNow?: Date | undefined;
  /** The debounce never keeps a stored token valid for less than this (TOKEN_MIN_VALIDITY_MINUTES). */
  minValiditySeconds: number;
  force: boolean;
  dryRun: boolean;
  adopt: boolean;
  debounceSeconds: number;
  kmsKeyId: string | undefined;
  tags: Record<string, string>;
  /** SECRET_REPLICA_REGIONS: a secret created now gets these replicas. */
  replicaRegions?: readonly ReplicaRegion[];
  /** When set, a missing secret is not created: the refusal's reason (the CLI's --create guard). */
  refuseCreate?: string | undefined;
}

export interface SecretWriteResult {
  secretName: string;
  outcome: WriteOutcome;
  reason: string;
  versionId?: string | undefined;
  /** When the write was debounced: the stored value, which stays the source of truth. */
  stored?: StoredSecret;
  /** The secret as DescribeSecret showed it before the write (absent when it did not exist). */
  description?: SecretDescription;
  /** The secret's ARN (from DescribeSecret or CreateSecret). */
  arn?: string | undefined;
}

export { SecretRefusedError };

/** Content-derived idempotency token (64 hex characters; Secrets Manager accepts 32–64). */
export function clientRequestToken(name: string, secretString: string): string {
  return createHash("sha256").update(name).update("\n").update(secretString).digest("hex");
}

function isResourceExists(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "ResourceExistsException";
}

/** The product owns a secret that carries its ownership tag (set when it created or adopted it). */
export function isOwnedSecret(description: Pick<SecretDescription, "tags">): boolean {
  return description.tags[OWNERSHIP_TAG_KEY] === OWNERSHIP_TAG_VALUE;
}

/**
 * A missing secret: created (or, in a dry run, would be); undefined when another run created it
 * meanwhile, and `reread` then holds what is there.
 */
async function createMissing(
  api: SecretsApi,
  request: SecretWriteRequest,
  content: { secretString: string; token: string },
): Promise<SecretWriteResult | { reread: SecretDescription }> {
  const { name } = request;
  if (request.dryRun) return { secretName: name, outcome: "would-create", reason: "secret does not exist yet" };
  if (request.refuseCreate !== undefined) throw new SecretRefusedError(name, request.refuseCreate);
  try {
    const created = await api.create({
      name,
      secretString: content.secretString,
      kmsKeyId: request.kmsKeyId,
      tags: { ...request.tags, [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE },
      clientRequestToken: content.token,
      ...(request.replicaRegions && request.replicaRegions.length > 0 ? { replicaRegions: request.replicaRegions } : {}),
    });
    return { secretName: name, outcome: "created", reason: "secret did not exist", versionId: created.versionId, arn: created.arn };
  } catch (error) {
    // Another run (the CLI during an incident, the schedule) created it since we looked:
    // re-read it and decide again from what is there.
    if (!isResourceExists(error)) throw error;
    const reread = await api.describe(name);
    if (reread === undefined) throw new SecretRefusedError(name, "CreateSecret said it exists, but it cannot be read back");
    return { reread };
  }
}

/** An existing secret the product may not write: scheduled for deletion, or someone else's. */
function refuseForeign(request: SecretWriteRequest, description: SecretDescription): void {
  if (description.deletedDate !== undefined) {
    throw new SecretRefusedError(request.name, `it is scheduled for deletion (since ${description.deletedDate.toISOString()}); restore it first`);
  }
  if (!isOwnedSecret(description) && !request.adopt) {
    throw new SecretRefusedError(
      request.name,
      `it lacks the tag ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE}, so another owner may depend on it; set ADOPT_EXISTING_SECRET=true to take it over`,
    );
  }
}

/** The current version as the product's value, or the refusal that leaves it untouched. */
function readCurrent(request: SecretWriteRequest, description: SecretDescription, current: CurrentSecretValue | undefined): StoredSecret | undefined {
  const { name } = request;
  if (current?.secretString !== undefined) {
    const kind = secretKindOf(request.value);
    const check = parseSecretValue(current.secretString, kind, kind === "registry" ? request.registryHost : undefined);
    if (!check.ok) throw new SecretRefusedError(name, `${describeSecretValueProblem(check.problem)}, so it is not the product's format`);
    return check.stored;
  }
  if (current !== undefined && current.hasBinary) {
    throw new SecretRefusedError(name, "its current version holds SecretBinary, not a JSON SecretString, so it is not the product's format");
  }
  if (current === undefined && description.hasCurrentVersion) throw new SecretRefusedError(name, "its current version could not be read");
  return undefined;
}

/** How far a version's CreatedDate may lie ahead of this run's clock and still count as just written. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * For the combined secret: how its stored registries differ from the ones it is written with
 * (undefined when they are the same set). A stored value without `registries` differs.
 */
function registrySetChange(stored: StoredSecret, value: SecretValue): string | undefined {
  if (stored.kind !== "combined" || !("registries" in value)) return undefined;
  if (stored.value.registries === undefined) return "the stored value does not list its registries";
  const before = new Set(stored.value.registries);
  const now = new Set(value.registries);
  const added = [...now].filter((r) => !before.has(r));
  const removed = [...before].filter((r) => !now.has(r));
  if (added.length === 0 && removed.length === 0) return undefined;
  const parts = [
    ...(added.length > 0 ? [`${boundedList(added, { quoted: false })} added`] : []),
    ...(removed.length > 0 ? [`${boundedList(removed, { quoted: false })} removed`] : []),
  ];
  return `its registries changed (${parts.join("; ")})`;
}

/** Why a stored expiry that parses is not believed (empty when it does not parse). */
function implausible(value: { expires_at?: string | undefined }): string {
  const declared = storedExpiry(value);
  if (declared === undefined) return "";
  return ` (${declared.toISOString()} lies further ahead than an ECR token lives: ${ECR_TOKEN_LIFETIME_SECONDS / 3600} h + ${EXPIRY_CLOCK_SKEW_SECONDS / 60} min clock skew)`;
}

/**
 * The debounce: a version younger than the window is kept (a `debounced` result) while its token
 * is valid for at least the minimum; otherwise the string says why it is replaced anyway. The
 * combined secret whose registries changed is never kept: the window would hide a registry.
 */
function debounce(request: SecretWriteRequest, stored: StoredSecret, createdDate: Date | undefined): { keep: string } | { replacing?: string } {
  // A withdrawn entry (ECR Public whose refresh failed) holds no credential: never keep it.
  const holdsCredential = stored.kind !== "registry" || stored.value.auth_token !== "";
  if (request.force || !holdsCredential || createdDate === undefined) return {};
  const changed = registrySetChange(stored, request.value);
  if (changed !== undefined) return { replacing: changed };
  // A version created a moment after this run read its clock (a concurrent run wrote it) is as
  // young as can be: a small negative age counts as 0. One dated further ahead is not trusted.
  const rawAge = Math.floor((request.now.getTime() - createdDate.getTime()) / 1000);
  if (rawAge < -CLOCK_SKEW_SECONDS || rawAge >= request.debounceSeconds) return {};
  const ageSeconds = Math.max(0, rawAge);
  const tokenNow = request.tokenNow ?? request.now;
  // An expiry further ahead than an ECR token lives is not believed (a tampered value).
  const expiresAt = storedExpiry(stored.value, tokenNow);
  const validFor = expiresAt === undefined ? undefined : secondsUntil(expiresAt, tokenNow);
  if (validFor !== undefined && validFor > 0 && validFor >= request.minValiditySeconds) {
    return { keep: `current version is ${ageSeconds} s old (< ${request.debounceSeconds} s) and valid for ${validFor} s; kept it (use force to override)` };
  }
  // The debounce never keeps a token that is expired or too close to expiry.
  const state =
    validFor === undefined
      ? `the stored value has no valid expires_at${implausible(stored.value)}`
      : validFor <= 0
        ? `the stored token expired at ${expiresAt!.toISOString()}`
        : `the stored token expires at ${expiresAt!.toISOString()}, in ${validFor} s (< ${request.minValiditySeconds} s minimum validity)`;
  return { replacing: `${state}: replaced although the version is only ${ageSeconds} s old` };
}

export async function writeOwnedSecret(api: SecretsApi, request: SecretWriteRequest): Promise<SecretWriteResult> {
  const { name } = request;
  const secretString = encodeSecretValue(request.value);
  const token = clientRequestToken(name, secretString);
  let description = await api.describe(name);
  if (description === undefined) {
    const created = await createMissing(api, request, { secretString, token });
    if (!("reread" in created)) return created;
    description = created.reread;
  }
  refuseForeign(request, description);
  const owned = isOwnedSecret(description);
  const kept = { description, arn: description.arn };

  const current = description.hasCurrentVersion ? await api.getCurrent(name) : undefined;
  const stored = readCurrent(request, description, current);
  let replacing: string | undefined;
  if (stored !== undefined && current !== undefined) {
    if (current.secretString === secretString) {
      return { secretName: name, outcome: "unchanged", reason: "stored value is identical", versionId: current.versionId, ...kept };
    }
    const judged = debounce(request, stored, current.createdDate);
    if ("keep" in judged) return { secretName: name, outcome: "debounced", reason: judged.keep, versionId: current.versionId, stored, ...kept };
    replacing = judged.replacing;
  }

  const why = replacing === undefined ? "new token" : `new token: ${replacing}`;
  if (request.dryRun) return { secretName: name, outcome: "would-update", reason: owned ? why : `${why}; would adopt the secret`, ...kept };
  const put = await api.put({ name, secretString, clientRequestToken: token });
  if (!owned) await api.tag(name, { [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE });
  return { secretName: name, outcome: "updated", reason: owned ? why : `${why}; secret adopted`, versionId: put.versionId, ...kept };
}
