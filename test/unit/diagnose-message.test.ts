/** Reading the kubelet's pull error: where it is, what it says, and quoting it without credentials only. */
import { describe, expect, it } from "vitest";
import { errorInWaitingMessage, isPullErrorEvent, quoteKubeletMessage, readEcrDenial, readPullError, REDACTED } from "../../src/diagnose/message";
import * as K from "../fixtures/kubelet-pull-errors";

const IMAGE = `${K.ecrHost("us-east-1")}/team/payment-api:3.0.0`;

describe("quoteKubeletMessage", () => {
  it("keeps image references, registry hosts, URLs, digests and ARNs readable", () => {
    const text = K.failedToPull(IMAGE, K.ecrDeniedContainerd(IMAGE, "us-east-1", K.ACCOUNT, "team/payment-api"));
    const out = quoteKubeletMessage(text);
    expect(out).toBe(text);
    expect(out).toContain(`"${IMAGE}"`);
    expect(out).toContain(`https://${K.ecrHost("us-east-1")}/v2/team/payment-api/manifests/${K.DIGEST}`);
    expect(out).not.toContain(REDACTED);
  });

  it("redacts URL userinfo, bearer/basic credentials, signed-URL and token/password/auth values, EKS tokens, JWTs, long base64", () => {
    const ecrPassword = Buffer.from(
      JSON.stringify({ payload: "P".repeat(200), datakey: "K".repeat(50), version: "2", type: "DATA_KEY", expiration: 1 }),
    ).toString("base64");
    const jwt = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQ`;
    const cases: Array<[string, string, string]> = [
      ["https://user:s3cret-pass@registry.example.com/v2/app/manifests/1", "s3cret-pass", `https://${REDACTED}@registry.example.com/v2/app/manifests/1`],
      ["oci://tok3n-only@registry.example.com/app", "tok3n-only", `oci://${REDACTED}@registry.example.com/app`],
      ["failed to authorize: Authorization: Bearer abc.def-ghi", "abc.def-ghi", `failed to authorize: Authorization: Bearer ${REDACTED}`],
      ["Basic QVdTOnNlY3JldA==", "QVdTOnNlY3JldA", `Basic ${REDACTED}`],
      [
        "GET https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/a/b?X-Amz-Security-Token=IQoJb3JpZ2lu&X-Amz-Signature=abcd1234&X-Amz-Date=20261202T000000Z: 403",
        "IQoJb3JpZ2lu",
        `GET https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/a/b?X-Amz-Security-Token=${REDACTED}&X-Amz-Signature=${REDACTED}&X-Amz-Date=20261202T000000Z: 403`,
      ],
      ['{"auths":{"h":{"auth":"QVdTOmh1bnRlcjI=","password":"hunter2"}}}', "hunter2", `{"auths":{"h":{"auth":"${REDACTED}","password":"${REDACTED}"}}}`],
      ["token=abcdef123 user=AWS", "abcdef123", `token=${REDACTED} user=AWS`],
      ["k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9u", "aHR0cHM6Ly9zdHMu", REDACTED],
      [`bearer token ${jwt} refused`, "eyJzdWIiOiJzeXN0ZW06c2EifQ", `bearer token ${REDACTED} refused`],
      [`password echoed: ${ecrPassword}`, ecrPassword.slice(10, 60), `password echoed: ${REDACTED}`],
    ];
    for (const [text, secret, expected] of cases) {
      const out = quoteKubeletMessage(text);
      expect(out).toBe(expected);
      expect(out).not.toContain(secret);
    }
  });

  it("removes exact secret values given, and bounds the length", () => {
    expect(quoteKubeletMessage("the value is my-exact-secret here", ["my-exact-secret"])).toBe(`the value is ${REDACTED} here`);
    expect(quoteKubeletMessage("word ".repeat(1000)).length).toBeLessThanOrEqual(1501);
  });
});

describe("where the pull error is", () => {
  it("in the waiting message: the error of ErrImagePull, the suffix of a ≥ 1.32 back-off, nothing in a bare back-off", () => {
    const error = K.tagNotFound(IMAGE);
    expect(errorInWaitingMessage(error)).toBe(error);
    expect(errorInWaitingMessage(K.backOffWithError(IMAGE, error))).toBe(error);
    expect(errorInWaitingMessage(K.bareBackOff(IMAGE))).toBeUndefined();
    expect(errorInWaitingMessage(undefined)).toBeUndefined();
  });

  it("in Failed events: the detailed one, not `Error: ErrImagePull` / `Error: ImagePullBackOff`", () => {
    expect(isPullErrorEvent(K.failedToPull(IMAGE, K.tagNotFound(IMAGE)))).toBe(true);
    expect(isPullErrorEvent("Error: ErrImagePull")).toBe(false);
    expect(isPullErrorEvent("Error: ImagePullBackOff")).toBe(false);
    expect(isPullErrorEvent("")).toBe(false);
  });
});

describe("what the pull error says", () => {
  it("reads an ECR denial: principal, role, action, repository, region, account, reason", () => {
    expect(readEcrDenial(K.ecrDeniedContainerd(IMAGE, "eu-west-1", K.OTHER_ACCOUNT, "team/payment-api"))).toEqual({
      principal: K.ROTATOR_SESSION,
      role: K.ROTATOR_ROLE,
      action: "ecr:BatchGetImage",
      resource: `arn:aws:ecr:eu-west-1:${K.OTHER_ACCOUNT}:repository/team/payment-api`,
      repository: "team/payment-api",
      region: "eu-west-1",
      account: K.OTHER_ACCOUNT,
      because: "no resource-based policy allows the ecr:BatchGetImage action",
    });
    const user = readEcrDenial(
      K.ecrDeniedDocker("us-west-2", K.ACCOUNT, "redis", {
        action: "ecr:GetDownloadUrlForLayer",
        principal: `arn:aws:iam::${K.ACCOUNT}:user/ci`,
        because: "no identity-based policy allows the ecr:GetDownloadUrlForLayer action",
      }),
    );
    expect(user).toMatchObject({ principal: `arn:aws:iam::${K.ACCOUNT}:user/ci`, action: "ecr:GetDownloadUrlForLayer", repository: "redis" });
    expect(user!.role).toBeUndefined();
  });

  it("the reason ends with ECR's sentence (nothing after it is swallowed); explicit denies; dotted repository names", () => {
    const denial = K.ecrDeniedContainerd(IMAGE, "us-east-1", K.ACCOUNT, "team/payment.api");
    const both = readPullError([K.failedToPull(IMAGE, denial), K.backOffWithError(IMAGE, denial)], "h");
    expect(both).toMatchObject({
      kind: "permission-denied",
      denial: { repository: "team/payment.api", because: "no resource-based policy allows the ecr:BatchGetImage action" },
    });
    const joined = readEcrDenial(`${denial} Back-off pulling image "${IMAGE}"`);
    expect(joined!.because).toBe("no resource-based policy allows the ecr:BatchGetImage action");
    const deny = readEcrDenial(
      `denied: User: ${K.ROTATOR_SESSION} is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:${K.ACCOUNT}:repository/team/app with an explicit deny in a service control policy`,
    );
    expect(deny).toMatchObject({ repository: "team/app", because: "an explicit deny in a service control policy" });
  });

  it("classifies rate limits (naming the limiting registry), denials and missing repositories; nothing else", () => {
    expect(readPullError([K.dockerHubRateLimit("busybox")], "docker.io")).toMatchObject({ kind: "rate-limited", registry: "docker.io" });
    expect(readPullError(["unexpected status code https://quay.io/v2/x/manifests/1: 429 Too Many Requests"], "quay.io")).toMatchObject({
      kind: "rate-limited",
      registry: "quay.io",
    });
    expect(readPullError([K.ecrDeniedDocker("us-east-1", K.ACCOUNT, "x")], "h")).toMatchObject({ kind: "permission-denied" });
    expect(readPullError([K.repositoryNotFoundDocker("us-east-1", K.ACCOUNT, "team/x")], "h")).toMatchObject({
      kind: "repository-not-found",
      repository: "team/x",
      registryId: K.ACCOUNT,
    });
    expect(readPullError([K.forbiddenHead(IMAGE, "us-east-1", K.ACCOUNT, "team/payment-api", "3.0.0")], "h")).toBeUndefined();
    expect(readPullError([K.noBasicAuth(IMAGE)], "h")).toBeUndefined();
  });
});
