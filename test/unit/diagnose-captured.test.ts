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
    // A wrong password in a Secret that looks right: nothing in the cluster explains it.
    expect(
      codes(
        input({
          detail,
          podPullSecrets: ["ecr-pull-secret"],
          secrets: [{ name: "ecr-pull-secret", exists: true, type: "kubernetes.io/dockerconfigjson", entries: [{ key: C.CAPTURED_HOST, username: "AWS" }] }],
        }),
      ),
    ).toEqual(["unknown"]);
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
