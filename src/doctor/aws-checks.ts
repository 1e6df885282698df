/**
 * The AWS half of the doctor: who the credentials are (sts:GetCallerIdentity, which needs no
 * permission) and one ECR GetAuthorizationToken per region (the tokens the registry checks use).
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { RegionToken, RegionTokens } from "../rotation/ecr";
import { secondsUntil } from "../formats/ecr-token";
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGION } from "../formats/registry-host";
import type { Deadline } from "../shared/deadline";
import { TokenFetchError } from "../shared/errors";
import { SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";
import type { AwsCheck, AwsRun, CallerIdentity, CredentialsFault, IdentityFn } from "./aws-context";
import { duration, fail, guarded, pass } from "./check";
import type { DoctorCheck } from "./types";

export type { CallerIdentity, IdentityFn } from "./aws-context";

const stsClients = new Map<string, STSClient>();

/** The SDK-backed IdentityFn, asking the regional STS endpoint of `region`. */
export function sdkIdentity(region: string): IdentityFn {
  return async (deadline) => {
    let client = stsClients.get(region);
    if (client === undefined) {
      client = new STSClient({ region, ...SDK_CLIENT_OPTIONS });
      stsClients.set(region, client);
    }
    const sts = client;
    const out = await sdkSend(deadline, "STS GetCallerIdentity", (options) => sts.send(new GetCallerIdentityCommand({}), options));
    return { arn: out.Arn ?? "(no ARN)", account: out.Account ?? "(no account)" };
  };
}

/** SDK error names of a credential chain that found no credentials (or no SSO token). */
const NO_CREDENTIALS = new Set(["CredentialsProviderError", "TokenProviderError"]);
/** SDK error names of credentials AWS does not accept (unknown key, wrong secret). */
const REFUSED_CREDENTIALS = new Set(["InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure"]);

/**
 * Whether a failed sts:GetCallerIdentity says the credentials themselves are the cause (missing,
 * refused, expired), by the SDK error's name; undefined for any other failure (STS unreachable,
 * throttled, the deadline), which says nothing about the other calls.
 */
export function credentialsFaultOf(error: unknown): CredentialsFault | undefined {
  const sdkName = error instanceof Error ? error.name : undefined;
  if (sdkName === undefined) return undefined;
  if (NO_CREDENTIALS.has(sdkName)) return { kind: "missing" };
  if (REFUSED_CREDENTIALS.has(sdkName)) return { kind: "refused", sdkName };
  if (EXPIRED_CREDENTIALS.has(sdkName)) return { kind: "expired", sdkName };
  return undefined;
}

/** `aws identity`, and who the credentials are when the call worked, or why they cannot be used. */
export async function identityCheck(
  identity: IdentityFn,
  deadline: Deadline | undefined,
): Promise<{ check: DoctorCheck; caller?: CallerIdentity; fault?: CredentialsFault }> {
  const name = "aws identity";
  let caller: CallerIdentity | undefined;
  let fault: CredentialsFault | undefined;
  const check = await guarded(
    name,
    deadline,
    async () => {
      caller = await identity(deadline);
      return pass(name, `${caller.arn} (account ${caller.account})`);
    },
    (message, error) => {
      fault = credentialsFaultOf(error);
      return fail(
        name,
        message,
        "sts:GetCallerIdentity needs no permission, so the credentials themselves are missing or invalid, or STS is unreachable: " +
          "in Lambda check the execution role; on a laptop AWS_PROFILE / aws sso login / AWS_REGION; in a VPC without internet a com.amazonaws.<region>.sts endpoint",
      );
    },
  );
  if (check.status === "pass" && caller !== undefined) return { check, caller };
  return fault !== undefined ? { check, fault } : { check };
}

/** SDK error names of credentials whose session has expired (STS, and the services' own). */
const EXPIRED_CREDENTIALS = new Set(["ExpiredTokenException", "ExpiredToken"]);

/** The fix for a GetAuthorizationToken that failed, by its TokenFailure (for ECR Public: its own action and region). */
function tokenFix(error: unknown, publicRegistry: boolean): string {
  const failure = error instanceof TokenFetchError ? error.failure : undefined;
  if (failure?.kind === "expired" || failure?.kind === "too-short" || (failure?.kind === "call" && failure.sdkName === "RequestExpired")) {
    return "the token ECR issued is already (nearly) expired by this clock: check this machine's clock (with an emulator whose tokens carry a fixed expiry, pass --now)";
  }
  if (failure?.kind === "too-long") {
    return "the token ECR issued claims to live longer than an ECR token does (12 h) by this clock: check this machine's clock (it may run far behind), and that AWS_ENDPOINT_URL, if set, is ECR or its emulator";
  }
  if (failure?.kind === "call" && failure.sdkName !== undefined && EXPIRED_CREDENTIALS.has(failure.sdkName)) {
    return "the credentials' session has expired: renew it (aws sso login, or new credentials for AWS_PROFILE; in Lambda the execution role's renew themselves: run the doctor again)";
  }
  return publicRegistry
    ? `the role needs ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken on "*" (ECR Public issues tokens in ${ECR_PUBLIC_REGION} only); an AccessDenied naming an SCP or a permissions boundary must be lifted there`
    : 'the role needs ecr:GetAuthorizationToken on Resource "*" (the action has no resource scoping); an AccessDenied naming an SCP or a permissions boundary must be lifted there; a network error: the route to api.ecr.<region>.amazonaws.com (NAT, or the com.amazonaws.<region>.ecr.api VPC endpoint)';
}

/** `ecr token <region>` (or `ecr public token`): the region's token, fetched once and shared with the registry checks. */
export async function tokenCheck(
  tokens: RegionTokens,
  region: string /* a region, or "public" for ECR Public */,
  tokenNow: () => Date,
  deadline: Deadline | undefined,
): Promise<{ check: DoctorCheck; token?: RegionToken }> {
  const publicRegistry = region === "public";
  const name = publicRegistry ? "ecr public token" : `ecr token ${region}`;
  let token: RegionToken | undefined;
  const check = await guarded(
    name,
    deadline,
    async () => {
      token = publicRegistry ? await tokens.getPublic() : await tokens.get(region);
      const left = secondsUntil(token.expiresAt, tokenNow());
      const forWhom = publicRegistry ? ECR_PUBLIC_HOST : `its registry ${token.ownRegistry.host}`;
      return pass(name, `GetAuthorizationToken works: a token valid until ${token.expiresAt.toISOString()} (${duration(left)} left), ${forWhom}`);
    },
    (message, error) => fail(name, message, tokenFix(error, publicRegistry)),
  );
  return token === undefined || check.status !== "pass" ? { check } : { check, token };
}

const unique = <T>(items: T[]): T[] => [...new Set(items)];

/** The private regions whose token the configuration needs (configured order), and whether ECR Public's. */
export function tokenRegions(run: AwsRun): { regions: string[]; wantsPublic: boolean } {
  const { registries, defaultRegion } = run.config.rotation;
  const regions = unique(registries.length > 0 ? registries.filter((r) => !r.public).map((r) => r.region) : defaultRegion ? [defaultRegion] : []);
  return { regions, wantsPublic: registries.some((r) => r.public) };
}

/** `aws identity`: who the credentials are. */
export const awsIdentityCheck: AwsCheck = {
  names: () => ["aws identity"],
  needs: [],
  provides: "identity",
  run: async (run) => {
    const who = await identityCheck(run.identity, run.deadline);
    if (who.caller) run.caller = who.caller;
    if (who.fault) run.credentialsFault = who.fault;
    return [who.check];
  },
};

/** `ecr token <region>` per region, then `ecr public token`: one GetAuthorizationToken each, shared with the registry checks. */
export const ecrTokenCheck: AwsCheck = {
  names: (run) => {
    const { regions, wantsPublic } = tokenRegions(run);
    return [...regions.map((region) => `ecr token ${region}`), ...(wantsPublic ? ["ecr public token"] : [])];
  },
  needs: ["identity"],
  provides: "tokens",
  run: async (run) => {
    const { regions, wantsPublic } = tokenRegions(run);
    const [regional, publicToken] = await Promise.all([
      Promise.all(regions.map((region) => tokenCheck(run.tokens, region, run.tokenNow, run.deadline))),
      wantsPublic ? tokenCheck(run.tokens, "public", run.tokenNow, run.deadline) : undefined,
    ]);
    run.regionTokens = new Map(regions.map((region, i) => [region, regional[i]!]));
    if (publicToken) run.publicToken = publicToken;
    return [...regional.map((t) => t.check), ...(publicToken ? [publicToken.check] : [])];
  },
};
