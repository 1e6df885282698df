/**
 * Does the token really work at the registry? `registry login <host>`: GET /v2/ with the token
 * (what `docker login` does); `registry pull <host>/<image>`: a manifest HEAD of PROBE_IMAGE —
 * what catches a role without pull rights, or a repository policy that does not name it (ECR
 * accepts the token, then refuses the image). Nothing is downloaded, nothing written.
 */
import type { RegionToken } from "../rotation/ecr";
import { dockerConfigEntry } from "../formats/dockerconfig";
import type { ProbeImage } from "../formats/image-reference";
import type { RegistryHost } from "../formats/registry-host";
import type { Deadline } from "../shared/deadline";
import { fail, guarded, pass, skip } from "./check";
import { RegistryUnreachableError, type RegistryAnswer, type RegistryRequestFn } from "./registry-http";
import type { DoctorCheck } from "./types";
import type { AwsCheck, AwsRun, TokenResult } from "./aws-context";

/** The manifest media types a pull accepts (OCI and Docker, single images and indexes). */
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * What the role may pull beyond the probed image. The deploy parameter pullRepositories is IAM
 * only (the function's environment does not carry it, and reading its own policy would need IAM
 * rights it does not have), so the doctor says the default and where it is narrowed.
 */
export const PULL_SCOPE =
  "the role may pull what its IAM policy grants: by default every repository of the configured registries (repository/*), unless the deploy's pullRepositories parameter narrows it to name prefixes (the function cannot read its own policy to tell)";

export interface RegistryCheckInput {
  registry: RegistryHost;
  /** The token of the registry's region; undefined when that check failed (named by `tokenCheck`). */
  token: RegionToken | undefined;
  tokenCheck: string;
  probeImage: ProbeImage | undefined;
  /** The caller's IAM role or user ARN (from `aws identity`), to name in a policy fix; undefined when unknown. */
  principal: string | undefined;
  http: RegistryRequestFn;
  deadline?: Deadline | undefined;
}

/** An STS assumed-role ARN as the IAM role ARN a policy names (`arn:aws:iam::<acct>:role/<name>`). */
function policyPrincipal(callerArn: string): string {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return assumed ? `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}` : callerArn;
}

/** The fix for a request that got no answer or an unexpected one. */
function reachFix(host: string, region: string, error: unknown, answer?: RegistryAnswer): string {
  if (answer !== undefined) {
    return `the registry answered HTTP ${answer.status}: ${answer.status === 429 ? "throttled, retry in a minute" : "retry; if it persists, check the AWS Health Dashboard for ECR in " + region}`;
  }
  const code = error instanceof RegistryUnreachableError ? error.problem.code : undefined;
  if (code === "TLS") {
    return `the certificate of https://${host} is not trusted here: a TLS-inspecting proxy's CA belongs in NODE_EXTRA_CA_CERTS`;
  }
  if (code === "ENOTFOUND") {
    return `cannot resolve ${host}: this network's DNS does not know it — from a VPC without internet the com.amazonaws.${region}.ecr.dkr interface endpoint (with private DNS) makes it resolve; check the host in ECR_REGISTRIES`;
  }
  return `this network must reach https://${host}: DNS for the host, 443 out, and from a VPC without internet the com.amazonaws.${region}.ecr.dkr interface endpoint (plus the S3 gateway endpoint for layers)`;
}

/** The names of one registry's two lines: `registry login <host>`, `registry pull <host>[/<image>]`. */
export function registryLineNames(registry: RegistryHost, probeImage: ProbeImage | undefined): [string, string] {
  const host = registry.host;
  return [`registry login ${host}`, probeImage ? `registry pull ${host}/${probeImage.text}` : `registry pull ${host}`];
}

/** `registry login <host>` and `registry pull …` of one registry, in that order. */
export async function registryChecks(input: RegistryCheckInput): Promise<DoctorCheck[]> {
  const { registry, token, probeImage, http, deadline } = input;
  const host = registry.host;
  const [loginName, pullName] = registryLineNames(registry, probeImage);
  if (registry.public) {
    const why = `${host} is not probed: ECR Public exchanges its token at its own token service (its token is checked by "ecr public token")`;
    return [skip(loginName, why), skip(pullName, why)];
  }
  if (token === undefined) {
    const why = `no token: "${input.tokenCheck}" failed`;
    return [skip(loginName, why), skip(pullName, why)];
  }

  // `Basic <auth>`, the docker config's `auth` field: what `docker login` sends.
  const authorization = `Basic ${dockerConfigEntry({ host, username: token.username, password: token.password }).auth}`;
  const login = await guarded(
    loginName,
    deadline,
    async () => {
      const answer = await http({ host, method: "GET", path: "/v2/", headers: { authorization }, deadline });
      if (answer.status === 200) return pass(loginName, `GET https://${host}/v2/ with the ${token.region} token: 200`);
      if (answer.status === 401 || answer.status === 403) {
        return fail(
          loginName,
          `the registry refused the token GetAuthorizationToken issued in ${token.region} (HTTP ${answer.status})`,
          `an ECR token is valid only for registries of the region (and partition) it was issued in: check that ECR_REGISTRIES names ${host} with its own region, and that whatever answers for ${host} (a proxy, a VPC endpoint, a pull-through mirror) passes the Authorization header through`,
        );
      }
      return fail(loginName, `GET https://${host}/v2/ answered HTTP ${answer.status}`, reachFix(host, registry.region, undefined, answer));
    },
    (message, error) => fail(loginName, message, reachFix(host, registry.region, error)),
  );

  if (probeImage === undefined) {
    return [
      login,
      skip(
        pullName,
        `PROBE_IMAGE is not set: pull rights are not checked (set it to repository:tag of an image every configured registry holds); ${PULL_SCOPE}`,
      ),
    ];
  }
  if (login.status !== "pass") {
    // One cause, one fix: with the token refused, a pull failure would say nothing more.
    return [login, skip(pullName, `"${loginName}" did not pass: pull rights are checked with a token the registry accepts`)];
  }
  const path = `/v2/${probeImage.repository}/manifests/${probeImage.reference}`;
  const pull = await guarded(
    pullName,
    deadline,
    async () => {
      const answer = await http({ host, method: "HEAD", path, headers: { authorization, accept: MANIFEST_ACCEPT }, deadline });
      if (answer.status === 200) {
        return pass(
          pullName,
          `HEAD https://${host}${path}: 200${answer.contentType ? `, ${answer.contentType}` : ""}${answer.digest ? `, ${answer.digest}` : ""}; beyond this image, ${PULL_SCOPE}`,
        );
      }
      if (answer.status === 401 || answer.status === 403) {
        const who = input.principal ? policyPrincipal(input.principal) : "the function's role";
        return fail(
          pullName,
          `the registry accepted the token but refused the image ${probeImage.text} (HTTP ${answer.status}): the principal behind the token may not pull it`,
          `every pull with the stored token is a pull by ${who}: it needs ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (and ecr:BatchCheckLayerAvailability) on arn:aws:ecr:${registry.region}:${registry.accountId}:repository/${probeImage.repository} in its IAM policy, and the repository policy of ${probeImage.repository} must not deny it — in another account (${registry.accountId}) it must allow ${who} those actions (docs/deploy.md, "Registries in other accounts")`,
        );
      }
      if (answer.status === 404) {
        return fail(
          pullName,
          `${probeImage.text} does not exist in ${host} (HTTP 404: no such repository, tag or digest)`,
          `push ${probeImage.text} to ${host}, or set PROBE_IMAGE to an image that every configured registry holds`,
        );
      }
      return fail(pullName, `HEAD https://${host}${path} answered HTTP ${answer.status}`, reachFix(host, registry.region, undefined, answer));
    },
    (message, error) => fail(pullName, message, reachFix(host, registry.region, error)),
  );
  return [login, pull];
}

/** The registries to check: as configured, or this account's own in AWS_REGION (learnt from its token). */
function learntRegistries(run: AwsRun): readonly RegistryHost[] | undefined {
  const configured = run.config.rotation.registries;
  if (configured.length > 0) return configured;
  const region = run.config.rotation.defaultRegion;
  const own = region !== undefined ? run.regionTokens?.get(region)?.token?.ownRegistry : undefined;
  return own ? [own] : undefined;
}

/** `registry default`: a line only when the default registry (none configured) could not be learnt from its token. */
export const registryDefaultCheck: AwsCheck = {
  names: (run) => (learntRegistries(run) === undefined ? ["registry default"] : []),
  needs: ["identity", "tokens"],
  provides: "registries",
  run: (run) => {
    const registries = learntRegistries(run);
    run.registries = registries ?? [];
    if (registries !== undefined) return Promise.resolve([]);
    const region = run.config.rotation.defaultRegion;
    return Promise.resolve([
      skip("registry default", `the default registry (this account's in ${region}) is learnt from its token, and "ecr token ${region}" failed`),
    ]);
  },
};

/** The registries whose lines are reported: those known so far (before they are learnt: the configured ones). */
const knownRegistries = (run: AwsRun): readonly RegistryHost[] => run.registries ?? run.config.rotation.registries;

/** `registry login` and `registry pull` of each registry, with its region's token. */
export const registryProbeCheck: AwsCheck = {
  names: (run) => knownRegistries(run).flatMap((registry) => registryLineNames(registry, run.config.probeImage)),
  needs: ["identity", "tokens", "registries"],
  run: async (run) => {
    const lines = await Promise.all(
      knownRegistries(run).map((registry) => {
        const result: TokenResult | undefined = registry.public ? run.publicToken : run.regionTokens?.get(registry.region);
        return registryChecks({
          registry,
          token: result?.token,
          tokenCheck: result?.check.name ?? `ecr token ${registry.region}`,
          probeImage: run.config.probeImage,
          principal: run.caller?.arn,
          http: run.http,
          deadline: run.deadline,
        });
      }),
    );
    return lines.flat();
  },
};
