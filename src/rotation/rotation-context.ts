/**
 * What the steps of one rotation share (rotate.ts, rotate-registry.ts): the configuration, the
 * dependencies and options, the ECR tokens of the run, its errors, and how an owned secret is
 * written with its sharing (SECRET_READERS, SECRET_REPLICA_REGIONS).
 */
import type { Problem } from "../shared/problem";
import type { RotationConfig } from "../config/config";
import type { CombinedSecretReport, RegistryReport } from "../report/report";
import type { Deadline } from "../shared/deadline";
import type { SecretValue } from "../formats/secret-value";
import { RegionTokens, type EcrApi } from "./ecr";
import type { SecretsApi } from "./secrets-manager";
import type { SharingResult } from "./secret-sharing";
import { writeOwnedSecret, type SecretWriteResult } from "./secret-writer";

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

/** One rotation: what its steps read, and the errors they add (in the order they happen). */
export interface Rotation {
  config: RotationConfig;
  deps: RotationDeps;
  options: RotationOptions;
  /** The instant ECR token expiry is judged against (deps.tokenNow, else deps.now). */
  tokenNow: () => Date;
  /** The run's ECR tokens: one call per region, counted. */
  tokens: RegionTokens;
  errors: string[];
  /** Run-level failures, typed, beside `errors` (e.g. the deadline cut the registry look-up). */
  problems: Problem[];
}

export function startRotation(config: RotationConfig, deps: RotationDeps, options: RotationOptions): Rotation {
  const tokenNow = deps.tokenNow ?? deps.now;
  return { config, deps, options, tokenNow, tokens: new RegionTokens(deps.ecr, tokenNow, config.minTokenValiditySeconds), errors: [], problems: [] };
}

export interface WriteOptions {
  /** The registry a registry secret is for (checked against the secret's current `registry_url`). */
  registryHost?: string;
  /** Write even within the debounce window; default: the run's --force. */
  force?: boolean;
}

/** Writes one owned secret, then its resource policy and replicas; sharing errors join the run's. */
export async function writeSecret(
  run: Rotation,
  name: string,
  value: SecretValue,
  writeOptions: WriteOptions = {},
): Promise<SecretWriteResult & { shared: SharingResult }> {
  const { config, deps, options } = run;
  const { registryHost, force = options.force } = writeOptions;
  const result = await writeOwnedSecret(deps.secrets, {
    name,
    value,
    registryHost,
    now: deps.now(),
    tokenNow: run.tokenNow(),
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
  const sharing = { readers: config.secretReaders, replicas: config.replicaRegions };
  // Resource policies and replicas are loaded only when configured: the plain rotation path stays small.
  if (sharing.readers.length === 0 && sharing.replicas.length === 0) return { ...result, shared: { errors: [] } };
  const { shareOwnedSecret } = await import("./secret-sharing");
  const shared = await shareOwnedSecret(deps.secrets, { name, dryRun: options.dryRun, write: result }, sharing);
  run.errors.push(...shared.errors);
  return { ...result, shared };
}

/** Resource policy and replica status of a written secret, on its report row. */
export function addSharing(row: RegistryReport | CombinedSecretReport, shared: SharingResult): void {
  if (shared.resourcePolicy !== undefined) row.resourcePolicy = shared.resourcePolicy;
  if (shared.replicas !== undefined) row.replicas = shared.replicas;
  if (shared.replicasAdded !== undefined && shared.replicasAdded.length > 0) row.replicasAdded = shared.replicasAdded;
}
