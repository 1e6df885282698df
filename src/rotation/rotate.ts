/**
 * Rotation: fresh ECR tokens (one call per region) → one Secrets Manager secret per registry
 * (+ optional combined secret). Returns the report rows and the logins now stored in Secrets
 * Manager (what the Kubernetes fallback must push — never newer than the source of truth).
 * Over 300 lines: the one use case that decides per registry (fetch, write, withdraw ECR Public,
 * refuse near-expiry, deadline) and for the combined secret; writing itself is secret-writer.ts.
 */
import { renderSecretName, type RotationConfig } from "../config/config";
import { RegionTokens, type EcrApi, type RegistryCredential } from "./ecr";
import { secondsUntil } from "../formats/ecr-token";
import { BadRequestError, describeError } from "../shared/errors";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import type { CombinedSecretReport, RegistryReport } from "../report/report";
import { ECR_PUBLIC_HOST, parseConfiguredRegistry, type RegistryHost } from "../formats/registry-host";
import { checkStoredValue, combinedSecretValue, registrySecretValue, storedExpiry, withdrawnPublicValue } from "./secret-payload";
import { rememberSecret } from "../shared/redact";
import type { SecretsApi } from "./secrets-manager";
import { writeOwnedSecret, type SecretWriteResult } from "./secret-writer";
import { shareOwnedSecret, type SharingResult } from "./secret-sharing";

export interface RotationDeps {
  ecr: EcrApi;
  secrets: SecretsApi;
  /** Wall clock: debounce and report timestamps (compared with Secrets Manager's own dates). */
  now: () => Date;
  /**
   * The instant against which ECR token expiry is judged; defaults to `now`. Emulators whose
   * tokens carry a fixed expiry (moto: 2015-01-01) inject one here; the checks stay strict.
   */
  tokenNow?: (() => Date) | undefined;
  /** The invocation's deadline: nothing starts after it; what is left is reported `skipped: deadline`. */
  deadline?: Deadline | undefined;
}

export interface RotationOptions {
  dryRun: boolean;
  force: boolean;
  /** Restrict to these configured registry hosts. */
  registries?: string[] | undefined;
  /** When set, missing secrets are not created (the reason says why and what to do). */
  refuseCreate?: string | undefined;
}

export interface RotationOutcome {
  registries: RegistryReport[];
  combinedSecret?: CombinedSecretReport;
  ecrCalls: number;
  tokenSecondsRemaining: number | null;
  /**
   * Credentials as they now stand in Secrets Manager — in a dry run, as they would stand after
   * the run — which is what the Kubernetes step pushes (internal: never put in a Report).
   */
  stored: RegistryCredential[];
  /** Hosts whose entry was removed instead of refreshed (ECR Public whose refresh failed). */
  withdrawn: string[];
  errors: string[];
}

/** Which configured registries this run covers; unknown hosts in the request are rejected. */
export async function resolveRegistries(config: RotationConfig, tokens: RegionTokens, requested: string[] | undefined): Promise<RegistryHost[]> {
  let configured = config.registries;
  if (configured.length === 0) {
    // Default: the function's own registry in its region, learnt from the token's proxyEndpoint.
    configured = [(await tokens.get(config.defaultRegion!)).ownRegistry];
  }
  if (requested === undefined) return configured;
  const byHost = new Map(configured.map((r) => [r.host, r]));
  const unknown: string[] = [];
  const chosen: RegistryHost[] = [];
  for (const item of requested) {
    let host: string;
    try {
      host = parseConfiguredRegistry(item).host;
    } catch (error) {
      throw BadRequestError.manual(`${(error as Error).message}`);
    }
    const registry = byHost.get(host);
    if (registry === undefined) unknown.push(host);
    else if (!chosen.includes(registry)) chosen.push(registry); // H and https://H/ are one registry
  }
  if (unknown.length > 0) {
    throw BadRequestError.manual(
      `registr${unknown.length > 1 ? "ies" : "y"} ${unknown.join(", ")} not configured (configured: ${[...byHost.keys()].join(", ")})`,
    );
  }
  return chosen;
}

function credentialFromStored(registry: RegistryHost, stored: Record<string, unknown>): RegistryCredential | undefined {
  const expires = storedExpiry(stored);
  if (typeof stored.auth_token !== "string" || expires === undefined) return undefined;
  // The stored password is pushed to clusters like a fresh one: it must be scrubbed like one.
  rememberSecret(stored.auth_token);
  return {
    registry,
    username: typeof stored.username === "string" ? stored.username : "AWS",
    password: stored.auth_token,
    expiresAt: expires,
    proxyEndpoint: `https://${registry.host}`,
  };
}

/**
 * After a failed fetch or write: the expiry of the token the secret still holds, when it can be
 * read and is the product's value for this registry (best effort: never throws).
 */
async function storedTokenExpiry(secrets: SecretsApi, secretName: string, registry: RegistryHost): Promise<Date | undefined> {
  try {
    const current = await secrets.getCurrent(secretName);
    if (current?.secretString === undefined) return undefined;
    const check = checkStoredValue(current.secretString, "registry", registry.host);
    return check.ok ? storedExpiry(check.value) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A registry whose token could not be replaced: the row says how long the stored token still
 * serves, and a stored token below the minimum validity is its own loud error (pulls fail soon).
 */
async function failedRegistry(
  config: RotationConfig,
  deps: RotationDeps,
  base: Omit<RegistryReport, "outcome" | "reason">,
  registry: RegistryHost,
  reason: string,
  error: string,
  errors: string[],
): Promise<RegistryReport> {
  const row: RegistryReport = { ...base, outcome: "failed", reason };
  errors.push(error);
  const expiresAt = await storedTokenExpiry(deps.secrets, base.secretName, registry);
  if (expiresAt === undefined) return row;
  const left = secondsUntil(expiresAt, (deps.tokenNow ?? deps.now)());
  row.expiresAt = expiresAt.toISOString();
  row.secondsRemaining = left;
  if (left < config.minTokenValiditySeconds) {
    const state =
      left <= 0
        ? `expired at ${row.expiresAt}`
        : `expires at ${row.expiresAt}, in ${left} s (less than TOKEN_MIN_VALIDITY_MINUTES=${config.minTokenValiditySeconds / 60})`;
    const loud = `${registry.host}: the token stored in ${base.secretName} ${state} and could not be replaced: pulls with it fail${left <= 0 ? "" : " soon"}`;
    row.reason = `${reason}; ${loud}`;
    errors.push(loud);
  }
  return row;
}

/** Resource policy and replica status of a written secret, on its report row. */
function addSharing(row: RegistryReport | CombinedSecretReport, shared: SharingResult): void {
  if (shared.resourcePolicy !== undefined) row.resourcePolicy = shared.resourcePolicy;
  if (shared.replicas !== undefined) row.replicas = shared.replicas;
  if (shared.replicasAdded !== undefined && shared.replicasAdded.length > 0) row.replicasAdded = shared.replicasAdded;
}

export async function rotate(config: RotationConfig, deps: RotationDeps, options: RotationOptions): Promise<RotationOutcome> {
  const tokenNow = deps.tokenNow ?? deps.now;
  const tokens = new RegionTokens(deps.ecr, tokenNow, config.minTokenValiditySeconds);
  const errors: string[] = [];
  let registries: RegistryHost[];
  try {
    registries = await resolveRegistries(config, tokens, options.registries);
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    errors.push(isDeadlineExceeded(error) ? `skipped: ${DEADLINE_REASON} (${describeError(error)})` : describeError(error));
    return { registries: [], ecrCalls: tokens.calls, tokenSecondsRemaining: null, stored: [], withdrawn: [], errors };
  }

  const fetched = await Promise.all(
    registries.map(async (registry) => {
      try {
        return { registry, credential: await tokens.credentialFor(registry) };
      } catch (error) {
        return { registry, error: describeError(error), cause: error };
      }
    }),
  );

  const sharing = { readers: config.secretReaders, replicas: config.replicaRegions };
  /** Writes one owned secret, then its resource policy and replicas (SECRET_READERS, SECRET_REPLICA_REGIONS). */
  const write = async (
    name: string,
    kind: "registry" | "combined",
    value: object,
    writeOptions: { registryHost?: string; force?: boolean } = {},
  ): Promise<SecretWriteResult & { shared: SharingResult }> => {
    const { registryHost, force = options.force } = writeOptions;
    const result = await writeOwnedSecret(deps.secrets, {
      name,
      kind,
      value,
      registryHost,
      now: deps.now(),
      tokenNow: tokenNow(),
      minValiditySeconds: config.minTokenValiditySeconds,
      force,
      dryRun: options.dryRun,
      adopt: config.adoptExistingSecret,
      debounceSeconds: config.writeDebounceSeconds,
      kmsKeyId: config.kmsKeyId,
      tags: config.secretTags,
      replicaRegions: config.replicaRegions,
      refuseCreate: options.refuseCreate,
    });
    const shared = await shareOwnedSecret(deps.secrets, { name, dryRun: options.dryRun, write: result }, sharing);
    errors.push(...shared.errors);
    return { ...result, shared };
  };

  /**
   * ECR Public whose refresh failed: an expired public.ecr.aws entry makes pulls fail that would
   * succeed anonymously, so the entry is removed from the secret instead of left to expire.
   */
  const withdrawPublic = async (secretName: string, why: string): Promise<string> => {
    const lead = `no ${ECR_PUBLIC_HOST} token: ${why}`;
    try {
      if ((await deps.secrets.describe(secretName)) === undefined) return `${lead}; no secret to withdraw it from`;
      const result = await write(secretName, "registry", withdrawnPublicValue(why), { force: true });
      if (result.outcome === "would-update")
        return `${lead}; would remove the ${ECR_PUBLIC_HOST} entry from the secret (pulls from it would go anonymous rather than fail on an expired token)`;
      return `${lead}; the ${ECR_PUBLIC_HOST} entry was removed from the secret (pulls from it go anonymous rather than fail on an expired token)`;
    } catch (error) {
      errors.push(`${secretName}: ${describeError(error)}`);
      return `${lead}; removing its entry from the secret failed: ${describeError(error)}`;
    }
  };

  const rows: RegistryReport[] = [];
  const withdrawn: string[] = [];
  const stored: RegistryCredential[] = [];
  const fresh: RegistryCredential[] = [];
  for (const item of fetched) {
    const { registry } = item;
    const secretName = renderSecretName(config.secretNameTemplate, registry);
    const base = { registry: registry.host, accountId: registry.accountId, region: registry.region, secretName };
    if (item.credential === undefined && isDeadlineExceeded(item.cause)) {
      rows.push({
        ...base,
        outcome: "skipped",
        reason: `${DEADLINE_REASON}: no token before the invocation's deadline; nothing written, the stored value stays`,
      });
      errors.push(`${registry.host}: skipped: ${DEADLINE_REASON}`);
      continue;
    }
    if (item.credential === undefined) {
      if (registry.public) {
        rows.push({ ...base, outcome: "failed", reason: await withdrawPublic(secretName, item.error) });
        withdrawn.push(registry.host);
        errors.push(`${registry.host}: ${item.error}`);
      } else {
        rows.push(
          await failedRegistry(
            config,
            deps,
            base,
            registry,
            `no token: ${item.error}; nothing written, the stored value stays`,
            `${registry.host}: ${item.error}`,
            errors,
          ),
        );
      }
      continue;
    }
    const credential = item.credential;
    fresh.push(credential);
    if (deps.deadline?.expired()) {
      rows.push({ ...base, outcome: "skipped", reason: `${DEADLINE_REASON}: not written before the invocation's deadline; the stored value stays` });
      errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
      continue;
    }
    try {
      const result = await write(secretName, "registry", registrySecretValue(credential), { registryHost: registry.host });
      const inStore = result.storedValue ? (credentialFromStored(registry, result.storedValue) ?? credential) : credential;
      stored.push(inStore);
      const row: RegistryReport = {
        ...base,
        outcome: result.outcome,
        reason: result.reason,
        expiresAt: inStore.expiresAt.toISOString(),
        secondsRemaining: secondsUntil(inStore.expiresAt, tokenNow()),
      };
      if (result.versionId !== undefined) row.versionId = result.versionId;
      addSharing(row, result.shared);
      rows.push(row);
    } catch (error) {
      if (isDeadlineExceeded(error)) {
        // A write the deadline cut may or may not have been applied: its idempotency token makes
        // the next run's write of the same value a no-op either way.
        rows.push({ ...base, outcome: "skipped", reason: `${DEADLINE_REASON}: cut before Secrets Manager answered; the next run repeats it` });
        errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
      } else {
        rows.push(await failedRegistry(config, deps, base, registry, describeError(error), `${secretName}: ${describeError(error)}`, errors));
      }
    }
  }

  let combinedSecret: CombinedSecretReport | undefined;
  if (config.combinedSecretName !== undefined) {
    const secretName = config.combinedSecretName;
    if (options.registries !== undefined) {
      combinedSecret = { secretName, outcome: "skipped", reason: "the run covers only some registries; the combined secret holds all of them" };
    } else if (deps.deadline?.expired()) {
      combinedSecret = { secretName, outcome: "skipped", reason: DEADLINE_REASON };
      errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
    } else if (fresh.length === 0 || fetched.some((f) => f.credential === undefined && !f.registry.public)) {
      combinedSecret = { secretName, outcome: "skipped", reason: "not every registry has a fresh token: a partial combined secret is never written" };
    } else {
      // Only ECR Public may be missing: it is left out rather than left to expire.
      const publicLeftOut = fresh.length !== registries.length;
      try {
        const result = await write(secretName, "combined", combinedSecretValue(fresh), { force: options.force || publicLeftOut });
        combinedSecret = {
          secretName,
          outcome: result.outcome,
          reason: publicLeftOut
            ? `${result.reason}; ${ECR_PUBLIC_HOST} left out: its token could not be refreshed, so pulls from it go anonymous instead of failing on an expired entry`
            : result.reason,
        };
        if (result.versionId !== undefined) combinedSecret.versionId = result.versionId;
        addSharing(combinedSecret, result.shared);
      } catch (error) {
        combinedSecret = isDeadlineExceeded(error)
          ? { secretName, outcome: "skipped", reason: DEADLINE_REASON }
          : { secretName, outcome: "failed", reason: describeError(error) };
        errors.push(`${secretName}: ${describeError(error)}`);
      }
    }
  }

  // Failed rows count with the token their secret still holds (when it could be read).
  const remaining = rows.filter((r) => r.secondsRemaining !== undefined).map((r) => r.secondsRemaining!);
  const result: RotationOutcome = {
    registries: rows,
    ecrCalls: tokens.calls,
    tokenSecondsRemaining: remaining.length > 0 ? Math.min(...remaining) : null,
    stored,
    withdrawn,
    errors,
  };
  if (combinedSecret) result.combinedSecret = combinedSecret;
  return result;
}
