/**
 * Rotation: fresh ECR tokens (one call per region) → one Secrets Manager secret per registry
 * (+ optional combined secret). Returns the report rows and the logins now stored in Secrets
 * Manager (what the Kubernetes fallback must push — never newer than the source of truth).
 */
import { renderSecretName, type RotationConfig } from "../config/config";
import { RegionTokens, type EcrApi, type RegistryCredential } from "./ecr";
import { secondsUntil } from "../formats/ecr-token";
import { BadRequestError, describeError } from "../shared/errors";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import type { CombinedSecretReport, RegistryReport } from "../report/report";
import { parseRegistryHost, type RegistryHost } from "../formats/registry-host";
import { combinedSecretValue, registrySecretValue } from "./secret-payload";
import type { SecretsApi } from "./secrets-manager";
import { writeOwnedSecret } from "./secret-writer";

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
}

export interface RotationOutcome {
  registries: RegistryReport[];
  combinedSecret?: CombinedSecretReport;
  ecrCalls: number;
  tokenSecondsRemaining: number | null;
  /** Credentials as they now stand in Secrets Manager (internal: never put in a Report). */
  stored: RegistryCredential[];
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
      host = parseRegistryHost(item).host;
    } catch (error) {
      throw BadRequestError.manual(`${(error as Error).message}`);
    }
    const registry = byHost.get(host);
    if (registry === undefined) unknown.push(host);
    else chosen.push(registry);
  }
  if (unknown.length > 0) {
    throw BadRequestError.manual(
      `registr${unknown.length > 1 ? "ies" : "y"} ${unknown.join(", ")} not configured (configured: ${[...byHost.keys()].join(", ")})`,
    );
  }
  return chosen;
}

function credentialFromStored(registry: RegistryHost, stored: Record<string, unknown>): RegistryCredential | undefined {
  const expires = typeof stored.expires_at === "string" ? new Date(stored.expires_at) : undefined;
  if (typeof stored.auth_token !== "string" || expires === undefined || Number.isNaN(expires.getTime())) return undefined;
  return {
    registry,
    username: typeof stored.username === "string" ? stored.username : "AWS",
    password: stored.auth_token,
    expiresAt: expires,
    proxyEndpoint: `https://${registry.host}`,
  };
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
    return { registries: [], ecrCalls: tokens.calls, tokenSecondsRemaining: null, stored: [], errors };
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

  const write = (name: string, kind: "registry" | "combined", value: object) =>
    writeOwnedSecret(deps.secrets, {
      name,
      kind,
      value,
      now: deps.now(),
      force: options.force,
      dryRun: options.dryRun,
      adopt: config.adoptExistingSecret,
      debounceSeconds: config.writeDebounceSeconds,
      kmsKeyId: config.kmsKeyId,
      tags: config.secretTags,
    });

  const rows: RegistryReport[] = [];
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
      rows.push({ ...base, outcome: "failed", reason: `no token: ${item.error}; nothing written, the stored value stays` });
      errors.push(`${registry.host}: ${item.error}`);
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
      const result = await write(secretName, "registry", registrySecretValue(credential));
      const inStore = result.storedValue ? (credentialFromStored(registry, result.storedValue) ?? credential) : credential;
      if (!options.dryRun) stored.push(inStore);
      const row: RegistryReport = {
        ...base,
        outcome: result.outcome,
        reason: result.reason,
        expiresAt: inStore.expiresAt.toISOString(),
        secondsRemaining: secondsUntil(inStore.expiresAt, tokenNow()),
      };
      if (result.versionId !== undefined) row.versionId = result.versionId;
      rows.push(row);
    } catch (error) {
      const deadline = isDeadlineExceeded(error);
      // A write the deadline cut may or may not have been applied: its idempotency token makes
      // the next run's write of the same value a no-op either way.
      rows.push({
        ...base,
        outcome: deadline ? "skipped" : "failed",
        reason: deadline ? `${DEADLINE_REASON}: cut before Secrets Manager answered; the next run repeats it` : describeError(error),
      });
      errors.push(`${secretName}: ${deadline ? `skipped: ${DEADLINE_REASON}` : describeError(error)}`);
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
    } else if (fresh.length !== registries.length || fresh.length === 0) {
      combinedSecret = { secretName, outcome: "skipped", reason: "not every registry has a fresh token: a partial combined secret is never written" };
    } else {
      try {
        const result = await write(secretName, "combined", combinedSecretValue(fresh));
        combinedSecret = { secretName, outcome: result.outcome, reason: result.reason };
        if (result.versionId !== undefined) combinedSecret.versionId = result.versionId;
      } catch (error) {
        combinedSecret = isDeadlineExceeded(error)
          ? { secretName, outcome: "skipped", reason: DEADLINE_REASON }
          : { secretName, outcome: "failed", reason: describeError(error) };
        errors.push(`${secretName}: ${describeError(error)}`);
      }
    }
  }

  const remaining = rows.filter((r) => r.secondsRemaining !== undefined && r.outcome !== "failed").map((r) => r.secondsRemaining!);
  const result: RotationOutcome = {
    registries: rows,
    ecrCalls: tokens.calls,
    tokenSecondsRemaining: remaining.length > 0 ? Math.min(...remaining) : null,
    stored,
    errors,
  };
  if (combinedSecret) result.combinedSecret = combinedSecret;
  return result;
}
