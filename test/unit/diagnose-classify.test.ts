/** The pure classifier: one table row per cause code, plus the kubelet keyring matching rules. */
import { describe, expect, it } from "vitest";
import { classifyStuckContainer, keyMatchesImage, parseImage, type ReducedSecret, type StuckContainerInput } from "../../src/diagnose/classify";
import { HOST_EUW1, HOST_USE1, NOW } from "../support/fixtures";

const IMAGE = `${HOST_USE1}/team/app:1.2.3`;
const future = new Date(NOW.getTime() + 6 * 3600_000);
const past = new Date(NOW.getTime() - 3600_000);

const good = (entries: ReducedSecret["entries"] = [{ key: HOST_USE1, username: "AWS", expiresAt: future }]): ReducedSecret => ({
  name: "ecr-pull-secret",
  exists: true,
  type: "kubernetes.io/dockerconfigjson",
  entries,
});

function input(over: Partial<StuckContainerInput> = {}): StuckContainerInput {
  return {
    namespace: "team-a",
    pod: "web-1",
    container: "app",
    image: IMAGE,
    reason: "ImagePullBackOff",
    message: `Back-off pulling image "${IMAGE}"`,
    serviceAccountName: "default",
    podPullSecrets: ["ecr-pull-secret"],
    serviceAccountPullSecrets: ["ecr-pull-secret"],
    secrets: [good()],
    events: [],
    configuredHosts: [HOST_USE1],
    pullSecretName: "ecr-pull-secret",
    now: NOW,
    ...over,
  };
}

const codes = (i: StuckContainerInput) => classifyStuckContainer(i).map((c) => c.code);

describe("classifyStuckContainer", () => {
  const cases: Array<[string, Partial<StuckContainerInput>, string[], RegExp?]> = [
    [
      "default SA, SA has no pull secret → trap, patch the SA",
      { podPullSecrets: [], secrets: [], serviceAccountPullSecrets: [] },
      ["default-service-account-trap"],
      /PATCH_SERVICE_ACCOUNTS=default/,
    ],
    [
      "SA unset, SA got the secret after the pod was created → trap, recreate",
      { serviceAccountName: undefined, podPullSecrets: [], secrets: [] },
      ["default-service-account-trap"],
      /recreate the pod/,
    ],
    [
      "named SA without pull secrets → no-image-pull-secrets",
      { serviceAccountName: "builder", podPullSecrets: [], secrets: [], serviceAccountPullSecrets: [] },
      ["no-image-pull-secrets"],
      /PATCH_SERVICE_ACCOUNTS/,
    ],
    ["referenced Secret missing", { secrets: [{ name: "ecr-pull-secret", exists: false, entries: [] }] }, ["pull-secret-not-found"], /heal/],
    ["Opaque Secret", { secrets: [{ name: "ecr-pull-secret", exists: true, type: "Opaque", entries: [] }] }, ["wrong-secret-type"], /dockerconfigjson/],
    ["legacy dockercfg is accepted", { secrets: [{ ...good(), type: "kubernetes.io/dockercfg" }] }, ["unknown"]],
    ["dockerconfigjson that does not parse", { secrets: [{ ...good([]), invalid: "the docker config is not valid JSON" }] }, ["invalid-pull-secret"]],
    ["entries only for another registry", { secrets: [good([{ key: "ghcr.io", username: "bot" }])] }, ["registry-host-mismatch"], /ghcr\.io/],
    [
      "same account, other region only → wrong-region",
      { secrets: [good([{ key: HOST_EUW1, username: "AWS", expiresAt: future }])] },
      ["wrong-region"],
      /eu-west-1/,
    ],
    ["every matching token expired", { secrets: [good([{ key: HOST_USE1, username: "AWS", expiresAt: past }])] }, ["token-expired"], /expired at/],
    [
      "token expiring within the margin counts as expired",
      { secrets: [good([{ key: `https://${HOST_USE1}`, username: "AWS", expiresAt: new Date(NOW.getTime() + 60_000) }])] },
      ["token-expired"],
      /expires at/,
    ],
    [
      "one expired and one fresh matching entry → not claimed expired",
      {
        secrets: [good([{ key: HOST_USE1, expiresAt: past }]), { ...good([{ key: `*.dkr.ecr.us-east-1.amazonaws.com`, expiresAt: future }]), name: "other" }],
        podPullSecrets: ["ecr-pull-secret", "other"],
      },
      ["unknown"],
    ],
    ["unknown expiry (non-ECR password shape) → not claimed expired", { secrets: [good([{ key: HOST_USE1, username: "AWS" }])] }, ["unknown"]],
    [
      "manifest unknown → not a credential problem",
      { reason: "ErrImagePull", message: `failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found` },
      ["not-a-credential-problem"],
      /image name, tag/,
    ],
    [
      "InvalidImageName → not a credential problem",
      { reason: "InvalidImageName", message: 'Failed to apply default image tag "Bad:Image": couldn\'t parse image name' },
      ["not-a-credential-problem"],
    ],
    [
      "no such host (event) → not a credential problem",
      { events: ["Failed to pull image: dial tcp: lookup nowhere.example: no such host"] },
      ["not-a-credential-problem"],
    ],
    [
      "401 beats 'does not exist' → credential analysis",
      {
        message: "pull access denied, repository does not exist or may require authorization: 401 Unauthorized",
        podPullSecrets: [],
        secrets: [],
        serviceAccountPullSecrets: [],
      },
      ["default-service-account-trap"],
    ],
    [
      "everything looks right → unknown with the scrubbed kubelet message",
      { message: "failed to authorize: 403 Forbidden Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCDEF" },
      ["unknown"],
      /403 Forbidden Bearer \[redacted\]/,
    ],
    [
      "two problems at once: a missing and a mismatched Secret",
      { podPullSecrets: ["gone", "ecr-pull-secret"], secrets: [{ name: "gone", exists: false, entries: [] }, good([{ key: "quay.io" }])] },
      ["pull-secret-not-found", "registry-host-mismatch"],
    ],
  ];
  it.each(cases)("%s", (_name, over, expected, pattern) => {
    const causes = classifyStuckContainer(input(over));
    expect(causes.map((c) => c.code)).toEqual(expected);
    for (const c of causes) {
      expect(c.message.length).toBeGreaterThan(10);
      expect(c.hint.length).toBeGreaterThan(10);
    }
    if (pattern) expect(causes.map((c) => `${c.message} ${c.hint}`).join(" ")).toMatch(pattern);
  });

  it("host mismatch for an unconfigured registry says to add it to ECR_REGISTRIES", () => {
    const other = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
    const [cause] = classifyStuckContainer(input({ image: `${other}/x:1` }));
    expect(cause).toMatchObject({ code: "registry-host-mismatch" });
    expect(cause!.hint).toMatch(/ECR_REGISTRIES/);
  });

  it("a glob key for every account of the region matches (no mismatch)", () => {
    expect(codes(input({ secrets: [good([{ key: "*.dkr.ecr.us-east-1.amazonaws.com", expiresAt: past }])] }))).toEqual(["token-expired"]);
  });
});

describe("keyMatchesImage (kubelet keyring rules)", () => {
  const rows: Array<[string, string, boolean]> = [
    [HOST_USE1, IMAGE, true],
    [`https://${HOST_USE1}`, IMAGE, true],
    [`https://${HOST_USE1}/v2/`, IMAGE, true],
    [`http://${HOST_USE1}/v1/`, IMAGE, true],
    ["*.dkr.ecr.us-east-1.amazonaws.com", IMAGE, true],
    ["*.amazonaws.com", IMAGE, false],
    [HOST_EUW1, IMAGE, false],
    [`${HOST_USE1}:443`, IMAGE, false],
    ["registry.local:5000", "registry.local:5000/app:1", true],
    ["registry.local", "registry.local:5000/app:1", false],
    [`${HOST_USE1}/team`, IMAGE, true],
    [`${HOST_USE1}/other`, IMAGE, false],
    ["https://index.docker.io/v1/", "nginx:1.27", true],
    ["docker.io", "library/nginx", true],
    ["ghcr.io", "nginx", false],
  ];
  it.each(rows)("%s vs %s → %s", (key, image, expected) => {
    expect(keyMatchesImage(key, image)).toBe(expected);
  });

  it("parseImage drops tag and digest", () => {
    expect(parseImage(`${HOST_USE1}/team/app:1@sha256:abc`)).toEqual({ host: HOST_USE1, port: "", path: "team/app" });
    expect(parseImage("localhost:5000/x")).toEqual({ host: "localhost", port: "5000", path: "x" });
  });
});
