/**
 * The diagnosis reads the texts the real kubelet and containerd wrote on the bed's node
 * (test/fixtures/kubelet-pull-errors.captured.ts): the error is found in the waiting message and
 * in the `Failed` Event alike, and the cause follows from the cluster's state the way the
 * classifier documents it.
 */
import { describe, expect, it } from "vitest";
import { classifyStuckContainer, type StuckContainerInput } from "../../src/diagnose/classify";
import { errorInWaitingMessage, isPullErrorEvent } from "../../src/diagnose/message";
import * as C from "../fixtures/kubelet-pull-errors.captured";

const NOW = new Date("2014-12-31T12:30:00Z");

function input(over: Partial<StuckContainerInput>): StuckContainerInput {
  return {
    namespace: "team",
    pod: "app-1",
    container: "app",
    image: C.CAPTURED_IMAGE,
    reason: "ImagePullBackOff",
    message: C.UNAUTHORIZED_WAITING,
    podPullSecrets: [],
    secrets: [],
    configuredHosts: [C.CAPTURED_HOST],
    pullSecretName: "ecr-pull-secret",
    now: NOW,
    ...over,
  };
}
const codes = (i: StuckContainerInput) => classifyStuckContainer(i).map((c) => c.code);

describe("the captured kubelet/containerd texts", () => {
  it("the waiting message carries the same error as the detailed Failed Event; the generic ones are not errors", () => {
    expect(errorInWaitingMessage(C.UNAUTHORIZED_WAITING)).toBe(C.UNAUTHORIZED_ERROR);
    expect(C.UNAUTHORIZED_EVENTS.filter(([r, m]) => r === "Failed" && isPullErrorEvent(m)).map(([, m]) => m)).toEqual([
      `Failed to pull image "${C.CAPTURED_IMAGE}": ${C.UNAUTHORIZED_ERROR}`,
    ]);
    expect(isPullErrorEvent(C.UNAUTHORIZED_EVENTS[2]![1])).toBe(false);
    expect(errorInWaitingMessage(C.MISSING_TAG_WAITING)).toBe(C.MISSING_TAG_ERROR);
  });

  it("401 Unauthorized: the cause comes from the cluster's state", () => {
    const detail = C.UNAUTHORIZED_ERROR;
    // No pull secret on the pod nor on its default ServiceAccount.
    expect(codes(input({ detail, serviceAccountPullSecrets: [], namespaceServiceAccounts: [{ name: "default", pullSecrets: [] }] }))).toEqual([
      "default-service-account-trap",
    ]);
    // The referenced Secret does not exist.
    expect(codes(input({ detail, podPullSecrets: ["registry-creds"], secrets: [{ name: "registry-creds", exists: false, entries: [] }] }))).toEqual([
      "pull-secret-not-found",
    ]);
    // An Opaque Secret (the kubelet ignores it silently).
    expect(
      codes(
        input({
          detail,
          podPullSecrets: ["legacy"],
          secrets: [{ name: "legacy", exists: true, type: "Opaque", entries: [{ key: C.CAPTURED_HOST, username: "AWS" }] }],
        }),
      ),
    ).toEqual(["wrong-secret-type"]);
    // Keyed to another registry.
    expect(
      codes(
        input({
          detail,
          podPullSecrets: ["ghcr"],
          secrets: [{ name: "ghcr", exists: true, type: "kubernetes.io/dockerconfigjson", entries: [{ key: "ghcr.io", username: "AWS" }] }],
        }),
      ),
    ).toEqual(["registry-host-mismatch"]);
    // A wrong password in a Secret that looks right: nothing in the cluster explains it, the 401 says the registry refused it.
    expect(
      codes(
        input({
          detail,
          podPullSecrets: ["ecr-pull-secret"],
          secrets: [{ name: "ecr-pull-secret", exists: true, type: "kubernetes.io/dockerconfigjson", entries: [{ key: C.CAPTURED_HOST, username: "AWS" }] }],
        }),
      ),
    ).toEqual(["registry-refused-credential"]);
  });

  it("401 with a pull secret that looks right: the registry refused the credential (wrong or stale), a heal refreshes it — never a 403/IAM hint", () => {
    const secrets = [{ name: "ecr-pull-secret", exists: true, type: "kubernetes.io/dockerconfigjson", entries: [{ key: C.CAPTURED_HOST, username: "AWS" }] }];
    const [cause] = classifyStuckContainer(input({ detail: C.UNAUTHORIZED_ERROR, podPullSecrets: ["ecr-pull-secret"], secrets }));
    expect(cause!.code).toBe("registry-refused-credential");
    expect(cause!.message).toContain(`${C.CAPTURED_HOST} refused the credential (401 Unauthorized)`);
    expect(cause!.message).toContain("wrong or stale");
    expect(cause!.hint).toContain("run heal: it writes a fresh token into Secrets Manager and into ecr-pull-secret");
    expect(`${cause!.message} ${cause!.hint}`).not.toMatch(/403|IAM/);
    // A Secret that is not the product's: refreshed where it comes from.
    const foreign = [{ ...secrets[0]!, name: "registry-creds" }];
    const [other] = classifyStuckContainer(input({ detail: C.UNAUTHORIZED_ERROR, podPullSecrets: ["registry-creds"], secrets: foreign }));
    expect(other!.hint).toContain('refresh "registry-creds" where it comes from');
  });

  it("default-service-account-trap with PATCH_SERVICE_ACCOUNTS=default already set: no advice to set it; the pod is recreated by its owner", () => {
    const base = { detail: C.UNAUTHORIZED_ERROR, namespaceServiceAccounts: [{ name: "default", pullSecrets: [] }], patchServiceAccounts: ["default"] };
    const [before] = classifyStuckContainer(input({ ...base, serviceAccountPullSecrets: [], owner: { kind: "ReplicaSet", name: "payment-api-7d9f8b6c5d" } }));
    expect(before!.code).toBe("default-service-account-trap");
    expect(before!.hint).not.toContain("set PATCH_SERVICE_ACCOUNTS");
    expect(before!.hint).toContain('PATCH_SERVICE_ACCOUNTS already lists "default": run heal');
    expect(before!.hint).toContain("kubectl -n team rollout restart deployment/payment-api");
    // The ServiceAccount got the secret after the pod was created: recreate it.
    const [after] = classifyStuckContainer(input({ ...base, serviceAccountPullSecrets: ["ecr-pull-secret"], owner: { kind: "Job", name: "migrate" } }));
    expect(after!.message).toContain("this pod was created before that");
    expect(after!.hint).toContain("kubectl -n team delete pod app-1 (its Job migrate recreates it)");
    expect(after!.hint).not.toContain("PATCH_SERVICE_ACCOUNTS");
  });

  it("a missing tag or repository (credentials accepted) is not a credential problem", () => {
    const secrets = [{ name: "ecr-pull-secret", exists: true, type: "kubernetes.io/dockerconfigjson", entries: [{ key: C.CAPTURED_HOST, username: "AWS" }] }];
    expect(
      codes(
        input({
          image: C.CAPTURED_MISSING_TAG_IMAGE,
          message: C.MISSING_TAG_WAITING,
          detail: C.MISSING_TAG_ERROR,
          podPullSecrets: ["ecr-pull-secret"],
          secrets,
        }),
      ),
    ).toEqual(["not-a-credential-problem"]);
    expect(
      codes(
        input({
          image: C.CAPTURED_MISSING_REPO_IMAGE,
          message: C.MISSING_REPO_WAITING,
          detail: C.MISSING_REPO_ERROR,
          podPullSecrets: ["ecr-pull-secret"],
          secrets,
        }),
      ),
    ).toEqual(["not-a-credential-problem"]);
  });
});
