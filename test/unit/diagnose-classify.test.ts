/** The pure classifier: one table row per cause code, plus the kubelet keyring matching rules. */
import { describe, expect, it } from "vitest";
import { classifyStuckContainer, keyMatchesImage, parseImage, type ReducedSecret, type StuckContainerInput } from "../../src/diagnose/classify";
import { HOST_EUW1, HOST_USE1, NOW } from "../support/fixtures";
import * as K from "../fixtures/kubelet-pull-errors";

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
      { detail: "Failed to pull image: dial tcp: lookup nowhere.example: no such host" },
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

  it("prints registry keys as they are written, except credentials in URL userinfo", () => {
    const [cause] = classifyStuckContainer(
      input({ secrets: [good([{ key: "https://bot:s3cret-pw@ghcr.io/v2/" }, { key: "quay.io/team" }, { key: "robot-token@registry.example.com" }])] }),
    );
    expect(cause!.code).toBe("registry-host-mismatch");
    expect(cause!.message).toContain("(entries: https://[redacted]@ghcr.io/v2/, quay.io/team, [redacted]@registry.example.com)");
    expect(cause!.message).not.toMatch(/s3cret-pw|robot-token/);
    expect(keyMatchesImage("https://bot:pw@ghcr.io", "ghcr.io/team/app:1")).toBe(true);
  });

  it("a glob key for every account of the region matches (no mismatch)", () => {
    expect(codes(input({ secrets: [good([{ key: "*.dkr.ecr.us-east-1.amazonaws.com", expiresAt: past }])] }))).toEqual(["token-expired"]);
  });
});

describe("causes read from the kubelet's pull error (message first, then the secrets)", () => {
  const ecrOnly = [good()];
  const HUB_IMAGE = "busybox:1.36";

  it("Docker Hub's rate limit on a pod whose pull secret holds only ECR: not a credential problem, names docker.io", () => {
    const detail = K.failedToPull(HUB_IMAGE, K.dockerHubRateLimit(HUB_IMAGE));
    const causes = classifyStuckContainer(input({ image: HUB_IMAGE, secrets: ecrOnly, detail }));
    expect(causes.map((c) => c.code)).toEqual(["not-a-credential-problem"]);
    expect(causes[0]!.message).toMatch(/rate limited: Docker Hub \(docker\.io\)/);
    expect(causes[0]!.message).toMatch(/the pull is anonymous: no pull secret entry matches docker\.io/);
    expect(causes[0]!.message).toContain("toomanyrequests: You have reached your pull rate limit");
    expect(causes[0]!.hint).toMatch(/pull secret for docker\.io .*pull-through cache.*will not help/);
    expect(causes[0]!.hint).not.toMatch(/ECR_REGISTRIES/);
  });

  it("the same limit read from a kubelet ≥ 1.32 waiting message (no event)", () => {
    const message = K.backOffWithError(HUB_IMAGE, K.dockerHubRateLimit(HUB_IMAGE));
    expect(codes(input({ image: HUB_IMAGE, secrets: ecrOnly, message }))).toEqual(["not-a-credential-problem"]);
  });

  it("ECR denial by the repository policy: registry-permission-denied naming principal, action, repository", () => {
    const image = `${K.ecrHost("us-east-1", K.OTHER_ACCOUNT)}/payments/payment-api:3.0.0`;
    const detail = K.failedToPull(image, K.ecrDeniedContainerd(image, "us-east-1", K.OTHER_ACCOUNT, "payments/payment-api"));
    const [cause, ...rest] = classifyStuckContainer(
      input({ image, detail, secrets: [good([{ key: K.ecrHost("us-east-1", K.OTHER_ACCOUNT), expiresAt: future }])] }),
    );
    expect(rest).toEqual([]);
    expect(cause!.code).toBe("registry-permission-denied");
    expect(cause!.message).toContain(
      `ECR refused ecr:BatchGetImage to role ${K.ROTATOR_ROLE} (session ${K.ROTATOR_SESSION}) on repository payments/payment-api (account ${K.OTHER_ACCOUNT}, us-east-1)`,
    );
    expect(cause!.message).toContain("because no resource-based policy allows the ecr:BatchGetImage action");
    expect(cause!.hint).toMatch(
      new RegExp(
        `^the repository policy of payments/payment-api \\(account ${K.OTHER_ACCOUNT}\\) must allow ${K.ROTATOR_ROLE} ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability \\(across accounts`,
      ),
    );
    // The image reference and the registry URL stay readable in the quoted kubelet message.
    expect(cause!.message).toContain(`failed to pull and unpack image "${image}"`);
    expect(cause!.message).toContain(`https://${K.ecrHost("us-east-1", K.OTHER_ACCOUNT)}/v2/payments/payment-api/manifests/${K.DIGEST}`);
  });

  it("ECR denial for want of an identity policy (Docker runtime text): the hint is the role's pull rights", () => {
    const image = `${HOST_USE1}/team/app:1.2.3`;
    const detail = K.failedToPull(
      image,
      K.ecrDeniedDocker("us-east-1", K.ACCOUNT, "team/app", {
        action: "ecr:BatchGetImage",
        principal: K.ROTATOR_SESSION,
        because: "no identity-based policy allows the ecr:BatchGetImage action",
      }),
    );
    const [cause] = classifyStuckContainer(input({ image, detail }));
    expect(cause!.code).toBe("registry-permission-denied");
    expect(cause!.hint).toBe(
      `grant ${K.ROTATOR_ROLE} ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability on arn:aws:ecr:us-east-1:${K.ACCOUNT}:repository/team/app in its identity policy; a heal will not help until then (docs/deploy.md, IAM)`,
    );
  });

  it("a pull-through cache's first pull without ecr:CreateRepository: same code, names both actions and the prefix", () => {
    const image = `${HOST_USE1}/docker-hub/library/nginx:1.27`;
    const detail = K.failedToPull(
      image,
      K.ecrDeniedDocker("us-east-1", K.ACCOUNT, "docker-hub/library/nginx", {
        action: "ecr:CreateRepository",
        principal: K.ROTATOR_SESSION,
        because: "no identity-based policy allows the ecr:CreateRepository action",
      }),
    );
    const [cause] = classifyStuckContainer(input({ image, detail }));
    expect(cause!.code).toBe("registry-permission-denied");
    expect(cause!.message).toMatch(/refused ecr:CreateRepository .* on repository docker-hub\/library\/nginx/);
    expect(cause!.message).toMatch(/pull-through cache needs ecr:BatchImportUpstreamImage and ecr:CreateRepository/);
    expect(cause!.hint).toBe(
      `allow ${K.ROTATOR_ROLE} ecr:BatchImportUpstreamImage and ecr:CreateRepository on arn:aws:ecr:us-east-1:${K.ACCOUNT}:repository/docker-hub/* (its identity policy), or pull the image once with a principal that has them; a heal will not help until then (docs/deploy.md, IAM)`,
    );
  });

  it("a repository that does not exist (name unknown) is not a credential problem, even with an expired token", () => {
    const detail = K.failedToPull(IMAGE, K.repositoryNotFoundDocker("us-east-1", K.ACCOUNT, "team/app"));
    const [cause, ...rest] = classifyStuckContainer(input({ detail, secrets: [good([{ key: HOST_USE1, expiresAt: past }])] }));
    expect(rest).toEqual([]);
    expect(cause!.code).toBe("not-a-credential-problem");
    expect(cause!.message).toMatch(/the repository "team\/app" \(registry 123456789012\) does not exist/);
    expect(cause!.hint).toMatch(/describe-repositories/);
  });

  it("a 403 without a reason (HEAD) reads nothing from the message: the secrets decide (expired token)", () => {
    const detail = K.failedToPull(IMAGE, K.forbiddenHead(IMAGE, "us-east-1", K.ACCOUNT, "team/app", "1.2.3"));
    expect(codes(input({ detail, secrets: [good([{ key: HOST_USE1, expiresAt: past }])] }))).toEqual(["token-expired"]);
    const [unknown] = classifyStuckContainer(input({ detail }));
    expect(unknown!.code).toBe("unknown");
    expect(unknown!.message).toContain(`unexpected status from HEAD request to https://${HOST_USE1}/v2/team/app/manifests/1.2.3: 403 Forbidden`);
  });

  it("the default-SA trap names the ServiceAccount of the namespace that does carry the pull secret", () => {
    const [cause] = classifyStuckContainer(
      input({
        podPullSecrets: [],
        secrets: [],
        serviceAccountPullSecrets: [],
        namespaceServiceAccounts: [
          { name: "builder", pullSecrets: ["other-creds"] },
          { name: "payment-api-sa", pullSecrets: ["ecr-pull-secret"] },
        ],
      }),
    );
    expect(cause!.code).toBe("default-service-account-trap");
    expect(cause!.message).toMatch(/ServiceAccount "payment-api-sa" in team-a does carry ecr-pull-secret \(so does "builder"\)/);
    expect(cause!.hint).toMatch(/^set serviceAccountName: payment-api-sa in the pod template/);
  });

  it("a missing pull secret names the namespaces where a Secret of that name exists", () => {
    const [cause] = classifyStuckContainer(
      input({
        podPullSecrets: ["registry-creds"],
        secrets: [{ name: "registry-creds", exists: false, entries: [] }],
        secretsElsewhere: { "registry-creds": ["team-a", "team-b", "team-c"] },
      }),
    );
    expect(cause!.code).toBe("pull-secret-not-found");
    expect(cause!.message).toMatch(/exists in namespaces team-b, team-c \(a pod can only use the pull secrets of its own namespace\)/);
    expect(cause!.hint).toMatch(/^create registry-creds in team-a \(e\.g\. a copy of the one in team-b\)/);
    const [none] = classifyStuckContainer(input({ podPullSecrets: ["x"], secrets: [{ name: "x", exists: false, entries: [] }], secretsElsewhere: { x: [] } }));
    expect(none!.message).toMatch(/no other namespace has a Secret of that name/);
  });

  it("wrong-region names the host to add", () => {
    const [cause] = classifyStuckContainer(input({ configuredHosts: [HOST_EUW1], secrets: [good([{ key: HOST_EUW1, expiresAt: future }])] }));
    expect(cause!.code).toBe("wrong-region");
    expect(cause!.hint).toBe(`add ${HOST_USE1} to ECR_REGISTRIES (one token per region), then run heal`);
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
