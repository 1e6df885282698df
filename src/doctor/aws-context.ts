/**
 * What the AWS half of the doctor shares: what a check is (an {@link AwsCheck}: its lines'
 * names, what it needs, how it runs), the state of the checklist as it runs (an {@link AwsRun}:
 * what each check found, for those after it), and why a check whose need is not met is skipped.
 * The list itself, in the order its lines are reported, is AWS_CHECKS (doctor.ts).
 */
import type { Config } from "../config/config";
import type { RegistryHost } from "../formats/registry-host";
import type { RegionToken, RegionTokens } from "../rotation/ecr";
import type { SecretsApi } from "../rotation/secrets-manager";
import type { Deadline } from "../shared/deadline";
import type { Request } from "../request/triggers";
import type { RegistryRequestFn } from "./registry-http";
import type { ClusterChecks, DoctorCheck } from "./types";

export interface CallerIdentity {
  arn: string;
  account: string;
}

/** sts:GetCallerIdentity (the SDK in production, a stub in tests), ending by `deadline`. */
export type IdentityFn = (deadline?: Deadline) => Promise<CallerIdentity>;

/**
 * What a check needs before it runs; each is provided by one earlier entry of the list (its
 * `provides`), and a check starts once the entries providing its needs have finished:
 * - `identity`: the credentials work (`aws identity`); unmet when that check found them
 *   missing, refused or expired — every call made with them would fail for the same cause;
 * - `tokens`: one GetAuthorizationToken per region has been tried (`ecr token <region>`);
 * - `registries`: the registries to check are known (configured, or learnt from the token).
 */
export type AwsNeed = "identity" | "tokens" | "registries";

/** Why the credentials cannot be used (set by `aws identity`), for the skip reasons of the checks that need them. */
export type CredentialsFault = { kind: "missing" } | { kind: "refused"; sdkName: string } | { kind: "expired"; sdkName: string };

/** A region's `ecr token` line, and its token when the line passed. */
export interface TokenResult {
  check: DoctorCheck;
  token?: RegionToken;
}

/** The state of the AWS checklist as its checks run, in order: what each found, for those after it. */
export interface AwsRun {
  config: Config;
  request: Request;
  secrets: SecretsApi;
  tokenNow: () => Date;
  deadline: Deadline | undefined;
  identity: IdentityFn;
  http: RegistryRequestFn;
  loadClusters: () => Promise<ClusterChecks>;
  /** The token cache (one GetAuthorizationToken per region; its count is the Report's ecrCalls). */
  tokens: RegionTokens;
  /** Set by `aws identity` when the call worked. */
  caller?: CallerIdentity;
  /** Set by `aws identity` when the credentials themselves are the cause of its failure. */
  credentialsFault?: CredentialsFault;
  /** Set by `ecr token`: each private region's result (configured order), and ECR Public's. */
  regionTokens?: Map<string, TokenResult>;
  publicToken?: TokenResult;
  /** Set by `registry default`: the registries to check (configured, or this account's own). */
  registries?: readonly RegistryHost[];
}

/** One check of the AWS half: one entry of AWS_CHECKS (doctor.ts). */
export interface AwsCheck {
  /**
   * Its lines' names as far as they are known before it runs (what a skipped check reports);
   * empty when the configuration asks for none of them.
   */
  names: (run: AwsRun) => string[];
  needs: readonly AwsNeed[];
  /** The need this check meets for the checks after it, once it has run. */
  provides?: AwsNeed;
  /** Its lines; nothing it meets escapes (each line is guarded, the deadline becomes a failed line). */
  run: (run: AwsRun) => Promise<DoctorCheck[]>;
}

/** Why a check is skipped when `need` is not met; undefined when it is. */
export function unmetAws(run: AwsRun, need: AwsNeed): string | undefined {
  if (need !== "identity" || run.credentialsFault === undefined) return undefined;
  const fault = run.credentialsFault;
  switch (fault.kind) {
    case "missing":
      return "no AWS credentials: see aws identity";
    case "refused":
      return `the AWS credentials were refused (${fault.sdkName}): see aws identity`;
    case "expired":
      return `the AWS credentials have expired (${fault.sdkName}): see aws identity`;
  }
}
