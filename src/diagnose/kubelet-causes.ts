/**
 * Causes read from the kubelet's pull error alone (steps 0–1 of a classification): rate limited,
 * refused by ECR's IAM, no such repository or image, the network — nothing a pull secret changes.
 * Pure. The formats: docs/facts.md §7.
 */
import { keyMatchesImage, parseImage } from "./keyring";
import { quoteKubeletMessage, readPullError, type EcrDenial } from "./message";
import type { StuckContainerInput } from "./types";
import type { Cause } from "../report/report";

/** The pull actions a token's principal needs on a repository (ECR guide, "repository-policies"). */
export const ECR_PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"];
/** What a pull-through cache's first pull also needs (ECR guide, "pull-through-cache-iam"). */
export const PULL_THROUGH_ACTIONS = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"];

/** Messages that say the credential was refused (these win over "not found"-like phrases). */
const AUTH_FAILURE = /\b(401|403)\b|unauthori[sz]ed|authoriz|authenticat|no basic auth credentials|denied|forbidden|insufficient_scope|expired/i;
/** Messages that point at the image reference or the network, not the credential. */
const NOT_CREDENTIAL =
  /manifest unknown|manifest for .* not found|: not found|\bnot found\b|InvalidImageName|invalid reference format|couldn't parse image|no such host|name unknown|repository name must|i\/o timeout|connection refused|network is unreachable|dial tcp/i;

const quote = (text: string | undefined): string => quoteKubeletMessage(text ?? "");

/**
 * Steps 0–1 alone: a cause read from the kubelet's texts that no pull secret can change (rate
 * limited, refused by ECR's IAM, no such repository or image, the network), or undefined.
 * Needs no Secret (`secrets` only refines the rate-limit message), so it holds even when a
 * Secret could not be read.
 */
export function causeFromKubelet(input: StuckContainerInput): Cause | undefined {
  return causeFromPullError(input) ?? notACredentialProblem(input);
}

/** The texts the kubelet left about this container: its pull error and its waiting message. */
function kubeletText(input: StuckContainerInput): string {
  return [input.detail ?? "", input.message ?? ""].filter((t) => t !== "").join("\n");
}

/** 0. Rate limited, refused by ECR's IAM, or no such repository: read from the pull error itself. */
function causeFromPullError(input: StuckContainerInput): Cause | undefined {
  const image = parseImage(input.image);
  const imageHostPort = image.port ? `${image.host}:${image.port}` : image.host;
  const reading = readPullError([input.detail ?? "", input.message ?? ""], imageHostPort);
  if (!reading) return undefined;
  const says = `; kubelet: ${quote(input.detail || input.message)}`;
  if (reading.kind === "permission-denied") return permissionDenied(reading.denial, says);
  if (reading.kind === "rate-limited") {
    const hub = reading.registry === "docker.io";
    const who = hub ? "Docker Hub (docker.io)" : reading.registry;
    const credentialed = input.secrets.some((s) => s.exists && s.entries.some((e) => keyMatchesImage(e.key, input.image)));
    const anonymous = !credentialed && (hub ? image.host === "docker.io" : reading.registry === imageHostPort);
    return {
      code: "not-a-credential-problem",
      message: `rate limited: ${who} refuses more pulls for now (${quote(reading.evidence)})${anonymous ? `; the pull is anonymous: no pull secret entry matches ${imageHostPort}` : ""} — the pull credential is not at fault${says}`,
      hint: hub
        ? "Docker Hub limits pulls per source IP (anonymous) or per account: give the pod a pull secret for docker.io (authenticated pulls get a higher limit), mirror the image (e.g. an ECR pull-through cache rule for Docker Hub), or wait for the window to pass; rotating or healing the ECR token will not help"
        : `${reading.registry} is throttling pulls: let the kubelet retry (back-off up to 5 min), spread rollouts, or pull less (imagePullPolicy: IfNotPresent); rotating or healing will not help`,
    };
  }
  const named = reading.repository ? ` "${reading.repository}"${reading.registryId ? ` (registry ${reading.registryId})` : ""}` : "";
  return {
    code: "not-a-credential-problem",
    message: `the repository${named} does not exist in ${imageHostPort} (${quote(reading.evidence)}) — the pull credential is not at fault${says}`,
    hint: "check the repository name, account and region in the image reference (ECR: aws ecr describe-repositories --repository-names NAME --region REGION); for a pull-through cache prefix, check that its rule exists; rotating or healing will not help",
  };
}

/** 0. ECR authenticated the token, but its principal may not do this on this repository. */
function permissionDenied(d: EcrDenial, says: string): Cause {
  const who = d.role ? `role ${d.role} (session ${d.principal})` : d.principal;
  const principalAccount = /::(\d{12}):/.exec(d.principal)?.[1];
  const crossAccount = principalAccount !== undefined && principalAccount !== d.account;
  const grantee = d.role ?? d.principal;
  const why = d.because ? ` because ${d.because}` : "";
  if (PULL_THROUGH_ACTIONS.includes(d.action)) {
    const prefix = d.repository.split("/")[0]!;
    return {
      code: "registry-permission-denied",
      message: `ECR refused ${d.action} to ${who} on repository ${d.repository} (account ${d.account}, ${d.region})${why}: the first pull of an image through a pull-through cache needs ${PULL_THROUGH_ACTIONS.join(" and ")} (later pulls ${PULL_THROUGH_ACTIONS[0]}); an ECR token carries the permissions of the principal that requested it${says}`,
      hint: `allow ${grantee} ${PULL_THROUGH_ACTIONS.join(" and ")} on arn:aws:ecr:${d.region}:${d.account}:repository/${prefix}/*${crossAccount ? ` (in its own policy and in the registry policy of account ${d.account})` : " (its identity policy)"}, or pull the image once with a principal that has them; a heal will not help until then (docs/deploy.md, IAM)`,
    };
  }
  const because = d.because ?? "";
  const policy = /resource-based/.test(because)
    ? `the repository policy of ${d.repository} (account ${d.account}) must allow ${grantee} ${ECR_PULL_ACTIONS.join(", ")}`
    : /identity-based/.test(because)
      ? `grant ${grantee} ${ECR_PULL_ACTIONS.join(", ")} on ${d.resource} in its identity policy`
      : /explicit deny/i.test(because)
        ? "an explicit Deny refuses it: find that statement (the role's policies, the repository or registry policy, an SCP) and narrow it"
        : `grant ${grantee} ${ECR_PULL_ACTIONS.join(", ")} on ${d.resource} (its identity policy and, across accounts, the repository policy)`;
  return {
    code: "registry-permission-denied",
    message: `ECR refused ${d.action} to ${who} on repository ${d.repository} (account ${d.account}, ${d.region})${why}; an ECR token carries the permissions of the principal that requested it: the pull secret is valid, its principal may not pull this repository${says}`,
    hint: `${policy}${crossAccount ? ` (across accounts both the principal's own policy and the repository or registry policy of account ${d.account} must allow it)` : ""}; a heal will not help until then (docs/deploy.md, IAM)`,
  };
}

/** 1. The kubelet's texts point at the image reference or the network (and not at a refused credential). */
function notACredentialProblem(input: StuckContainerInput): Cause | undefined {
  const all = kubeletText(input);
  if (!(input.reason === "InvalidImageName" || (NOT_CREDENTIAL.test(all) && !AUTH_FAILURE.test(all)))) return undefined;
  return {
    code: "not-a-credential-problem",
    message: `the image reference or the network is at fault, not the pull credential: ${quote([input.detail ?? "", input.message ?? ""].find((t) => NOT_CREDENTIAL.test(t)) || input.message || input.reason)}`,
    hint: "check the image name, tag or digest (does it exist in the repository?) and that the node can resolve and reach the registry; rotating or healing will not help",
  };
}
