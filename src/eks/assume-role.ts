/**
 * Clusters in other accounts: the function assumes a role there (`sts:AssumeRole` on the
 * regional STS endpoint of the cluster's region, with the configured ExternalId and a fixed
 * session name, so CloudTrail in the target account shows who acted) and uses the temporary
 * credentials for `DescribeCluster` and for signing the bearer token.
 *
 * Credentials are cached per (region, role, ExternalId, session name) across warm invocations
 * until 5 minutes before they expire; concurrent requests share one AssumeRole call.
 * `@aws-sdk/client-sts` is imported only when a cluster with a `roleArn` is reached.
 */
import { rememberSecret, scrubSecrets } from "../shared/redact";
import { isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";
import type { EksCredentials } from "./token";

export interface AssumeRoleRequest {
  roleArn: string;
  externalId?: string | undefined;
  sessionName: string;
  /** The cluster's region: the STS endpoint is `sts.<region>.amazonaws.com`. */
  region: string;
}

export interface AssumedRole {
  credentials: EksCredentials;
  expiresAt: Date;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`: the identity the cluster sees. */
  assumedRoleArn: string;
  /** The IAM role ARN (what an EKS access entry maps). */
  roleArn: string;
}

/** One AssumeRole call (the SDK in production, a stub in unit tests), ending by `deadline`. */
export type AssumeRoleFn = (request: AssumeRoleRequest, deadline?: Deadline) => Promise<AssumedRole>;

/** AssumeRole failed; the message names the role and what its trust policy must allow. */
export class AssumeRoleError extends Error {
  override readonly name = "AssumeRoleError";
  constructor(
    readonly problem: "access-denied" | "credentials" | "api-error",
    readonly roleArn: string,
    message: string,
  ) {
    super(scrubSecrets(message));
  }
}

/** Refresh this long before the credentials expire. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/** Requested session length (the STS default, 1 h; a role's maximum is at least that). */
export const SESSION_SECONDS = 3600;

function errorName(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.name, e.Code, e.code]) if (typeof v === "string" && v !== "Error") return v;
  }
  return "";
}

/** Turns an AssumeRole failure into a message that says what to fix (never secret material). */
export function describeAssumeRoleFailure(request: AssumeRoleRequest, error: unknown): AssumeRoleError {
  const name = errorName(error);
  const detail = scrubSecrets(error instanceof Error ? error.message : String(error)).slice(0, 400);
  const what = `sts:AssumeRole on ${request.roleArn} (session ${request.sessionName}${request.externalId !== undefined ? ", with the configured externalId" : ", without externalId"})`;
  if (name === "AccessDenied" || name === "AccessDeniedException") {
    return new AssumeRoleError(
      "access-denied",
      request.roleArn,
      `${what} was refused (${name}): the trust policy of ${request.roleArn} must allow this function's role` +
        `${request.externalId !== undefined ? " with the condition sts:ExternalId equal to the configured externalId" : ""}, ` +
        `and this function's role needs sts:AssumeRole on it: ${detail}`,
    );
  }
  if (name === "CredentialsProviderError") {
    return new AssumeRoleError("credentials", request.roleArn, `${what}: no AWS credentials of this function to call STS with: ${detail}`);
  }
  if (name === "RegionDisabledException") {
    return new AssumeRoleError(
      "api-error",
      request.roleArn,
      `${what}: STS is not activated in ${request.region} for the role's account (RegionDisabledException): activate it in IAM account settings`,
    );
  }
  return new AssumeRoleError("api-error", request.roleArn, `${what} failed${name ? ` (${name})` : ""}: ${detail}`);
}

export interface AssumedRoleCacheOptions {
  assume: AssumeRoleFn;
  now?: () => Date;
  refreshBeforeMs?: number;
}

/** Assumed-role credentials, cached until {@link REFRESH_BEFORE_EXPIRY_MS} before they expire. */
export class AssumedRoleCache {
  private readonly entries = new Map<string, AssumedRole>();
  private readonly pending = new Map<string, Promise<AssumedRole>>();
  private readonly now: () => Date;
  private readonly refreshBeforeMs: number;
  /** AssumeRole calls made (not cache hits); for tests and telemetry. */
  calls = 0;

  constructor(private readonly options: AssumedRoleCacheOptions) {
    this.now = options.now ?? (() => new Date());
    this.refreshBeforeMs = options.refreshBeforeMs ?? REFRESH_BEFORE_EXPIRY_MS;
  }

  static key(request: AssumeRoleRequest): string {
    return JSON.stringify([request.region, request.roleArn, request.externalId ?? null, request.sessionName]);
  }

  /** Cached credentials, or one AssumeRole call bounded by `deadline` (shared by concurrent callers). */
  async get(request: AssumeRoleRequest, deadline?: Deadline): Promise<AssumedRole> {
    const key = AssumedRoleCache.key(request);
    const cached = this.entries.get(key);
    if (cached !== undefined && cached.expiresAt.getTime() - this.now().getTime() > this.refreshBeforeMs) return cached;
    this.entries.delete(key);
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const promise = (async () => {
      this.calls += 1;
      let role: AssumedRole;
      try {
        role = await this.options.assume(request, deadline);
      } catch (error) {
        // The deadline is not the role's problem: it passes through as itself.
        if (isDeadlineExceeded(error)) throw error;
        throw error instanceof AssumeRoleError ? error : describeAssumeRoleFailure(request, error);
      }
      rememberSecret(role.credentials.secretAccessKey, role.credentials.sessionToken);
      this.entries.set(key, role);
      return role;
    })();
    this.pending.set(key, promise);
    try {
      return await promise;
    } finally {
      this.pending.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

type StsModule = typeof import("@aws-sdk/client-sts");
let stsModule: Promise<StsModule> | undefined;
const stsClients = new Map<string, InstanceType<StsModule["STSClient"]>>();

/**
 * AssumeRole through `@aws-sdk/client-sts` (imported on first use), one client per region. The
 * SDK's STS client resolves the regional endpoint `sts.<region>.amazonaws.com` (not the global
 * one); AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_STS override it (the local emulator).
 */
export function sdkAssumeRole(): AssumeRoleFn {
  return async (request, deadline) => {
    stsModule ??= import("@aws-sdk/client-sts");
    const { STSClient, AssumeRoleCommand } = await stsModule;
    let client = stsClients.get(request.region);
    if (client === undefined) {
      client = new STSClient({ region: request.region, ...SDK_CLIENT_OPTIONS });
      stsClients.set(request.region, client);
    }
    const sts = client;
    const out = await sdkSend(deadline, "STS AssumeRole", (options) =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: request.roleArn,
          RoleSessionName: request.sessionName,
          DurationSeconds: SESSION_SECONDS,
          ...(request.externalId !== undefined ? { ExternalId: request.externalId } : {}),
        }),
        options,
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || c.Expiration === undefined) {
      throw new AssumeRoleError("api-error", request.roleArn, `sts:AssumeRole on ${request.roleArn} returned incomplete credentials`);
    }
    rememberSecret(c.SecretAccessKey, c.SessionToken);
    return {
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
      expiresAt: new Date(c.Expiration),
      assumedRoleArn: out.AssumedRoleUser?.Arn ?? request.roleArn,
      roleArn: request.roleArn,
    };
  };
}

/** The process-wide cache that survives warm Lambda invocations (created on first use). */
let sharedCache: AssumedRoleCache | undefined;
export function assumedRoleCache(): AssumedRoleCache {
  sharedCache ??= new AssumedRoleCache({ assume: sdkAssumeRole() });
  return sharedCache;
}
