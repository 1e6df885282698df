/**
 * Rotation: fresh ECR tokens (one call per region) → one Secrets Manager secret per registry
 * (+ optional combined secret). Returns the report rows and the logins now stored in Secrets
 * Manager (what the Kubernetes fallback must push — never newer than the source of truth).
 * The use case in steps over one Rotation (rotation-context.ts): select the registries, fetch
 * their tokens, each registry's secret (rotate-registry.ts), the combined secret, the totals.
 */
import type { RotationConfig } from "../config/config";
import type { RegionTokens, RegistryCredential } from "./ecr";
import { BadRequestError, ConfigError, describeError } from "../shared/errors";
import { combinedSecretClash } from "../config/secret-names";
import { boundedList } from "../shared/bounded-list";
import { DEADLINE_REASON, isDeadlineExceeded } from "../shared/deadline";
import type { Problem } from "../shared/problem";
import type { CombinedSecretReport, RegistryReport } from "../report/report";
import { ECR_PUBLIC_HOST, parseConfiguredRegistry, type RegistryHost } from "../formats/registry-host";
import { combinedSecretValue } from "./secret-payload";
import { addSharing, startRotation, writeSecret, type Rotation, type RotationDeps, type RotationOptions } from "./rotation-context";

/** The deadline cut an AWS call (no URL to scrub: built here, so the rotate path needs none of shared/problem.ts). */
const awsDeadline = (detail: string): Problem => ({ kind: "deadline", target: { service: "aws" }, detail });
import { rotateRegistry, type FetchedToken, type RegistryStep } from "./rotate-registry";

export type { RotationDeps, RotationOptions } from "./rotation-context";

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
  /** Run-level failures, typed (the deadline cut the registry look-up, say). */
  problems: Problem[];
}

/** Which configured registries this run covers; unknown hosts in the request are rejected. */
export async function resolveRegistries(config: RotationConfig, tokens: RegionTokens, requested: string[] | undefined): Promise<RegistryHost[]> {
  let configured = config.registries;
  if (configured.length === 0) {
    // Default: the function's own registry in its region, learnt from the token's proxyEndpoint.
    const own = (await tokens.get(config.defaultRegion!)).ownRegistry;
    const clash = combinedSecretClash(config.secretNameTemplate, config.combinedSecretName, own);
    if (clash !== undefined) throw new ConfigError([clash]);
    configured = [own];
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
      `registr${unknown.length > 1 ? "ies" : "y"} ${boundedList(unknown, { quoted: false })} not configured (configured: ${[...byHost.keys()].join(", ")})`,
    );
  }
  return chosen;
}

/** The registries this run covers; undefined when they could not be learnt (the error is the run's). */
async function selectRegistries(run: Rotation): Promise<RegistryHost[] | undefined> {
  try {
    return await resolveRegistries(run.config, run.tokens, run.options.registries);
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    run.errors.push(isDeadlineExceeded(error) ? `skipped: ${DEADLINE_REASON} (${describeError(error)})` : describeError(error));
    if (isDeadlineExceeded(error)) run.problems.push(awsDeadline(error.what ?? ""));
    return undefined;
  }
}

/** Every registry's token, fetched at once (one ECR call per region); a failure is kept, not thrown. */
function fetchTokens(run: Rotation, registries: RegistryHost[]): Promise<FetchedToken[]> {
  return Promise.all(
    registries.map(async (registry): Promise<FetchedToken> => {
      try {
        return { registry, credential: await run.tokens.credentialFor(registry) };
      } catch (error) {
        return { registry, error: describeError(error), cause: error };
      }
    }),
  );
}

/**
 * The combined secret (COMBINED_SECRET_NAME): written only when the run covers every registry and
 * each has a fresh token, ECR Public aside (left out rather than left to expire).
 */
async function rotateCombined(run: Rotation, secretName: string, fetched: FetchedToken[], fresh: RegistryCredential[]): Promise<CombinedSecretReport> {
  if (run.options.registries !== undefined) {
    return { secretName, outcome: "skipped", reason: "the run covers only some registries; the combined secret holds all of them" };
  }
  if (run.deps.deadline?.expired()) {
    run.errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
    return { secretName, outcome: "skipped", reason: DEADLINE_REASON, problem: awsDeadline("") };
  }
  if (fresh.length === 0 || fetched.some((f) => f.credential === undefined && !f.registry.public)) {
    return { secretName, outcome: "skipped", reason: "not every registry has a fresh token: a partial combined secret is never written" };
  }
  // Only ECR Public may be missing: it is left out rather than left to expire.
  const publicLeftOut = fresh.length !== fetched.length;
  try {
    const result = await writeSecret(run, secretName, combinedSecretValue(fresh), { force: run.options.force || publicLeftOut });
    const combined: CombinedSecretReport = {
      secretName,
      outcome: result.outcome,
      reason: publicLeftOut
        ? `${result.reason}; ${ECR_PUBLIC_HOST} left out: its token could not be refreshed, so pulls from it go anonymous instead of failing on an expired entry`
        : result.reason,
    };
    if (result.versionId !== undefined) combined.versionId = result.versionId;
    addSharing(combined, result.shared);
    return combined;
  } catch (error) {
    run.errors.push(`${secretName}: ${describeError(error)}`);
    return isDeadlineExceeded(error)
      ? { secretName, outcome: "skipped", reason: DEADLINE_REASON, problem: { kind: "deadline", target: { service: "aws" }, detail: error.what ?? "" } }
      : { secretName, outcome: "failed", reason: describeError(error) };
  }
}

/** The outcome from the registries' steps: rows, tokens in store, withdrawals, the soonest expiry. */
function outcomeOf(run: Rotation, steps: RegistryStep[], combinedSecret: CombinedSecretReport | undefined): RotationOutcome {
  const rows = steps.map((s) => s.row);
  // Failed rows count with the token their secret still holds (when it could be read).
  const remaining = rows.filter((r) => r.secondsRemaining !== undefined).map((r) => r.secondsRemaining!);
  const result: RotationOutcome = {
    registries: rows,
    ecrCalls: run.tokens.calls,
    tokenSecondsRemaining: remaining.length > 0 ? Math.min(...remaining) : null,
    stored: steps.flatMap((s) => (s.stored ? [s.stored] : [])),
    withdrawn: steps.filter((s) => s.withdrawn).map((s) => s.row.registry),
    errors: run.errors,
    problems: run.problems,
  };
  if (combinedSecret) result.combinedSecret = combinedSecret;
  return result;
}

export async function rotate(config: RotationConfig, deps: RotationDeps, options: RotationOptions): Promise<RotationOutcome> {
  const run = startRotation(config, deps, options);
  const registries = await selectRegistries(run);
  if (registries === undefined) return outcomeOf(run, [], undefined);
  const fetched = await fetchTokens(run, registries);
  // One registry after the other: each write is judged against the deadline when it starts.
  const steps: RegistryStep[] = [];
  for (const item of fetched) steps.push(await rotateRegistry(run, item));
  const fresh = steps.flatMap((s) => (s.fresh ? [s.fresh] : []));
  const combined = config.combinedSecretName === undefined ? undefined : await rotateCombined(run, config.combinedSecretName, fetched, fresh);
  return outcomeOf(run, steps, combined);
}
