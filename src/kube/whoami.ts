/**
 * "Who does the cluster think we are?": one `SelfSubjectReview` (authentication.k8s.io/v1,
 * Kubernetes ≥ 1.28; every authenticated user may create one). Over node:https with the cluster
 * CA (./reviews.ts); failures are {@link KubeApiError}s like the adapters' (never the response body).
 */
import { kubeJsonRequest, type ReviewOptions } from "./reviews";
import type { KubeConnection } from "./types";

export interface SelfSubject {
  username: string;
  uid?: string;
  groups: string[];
  /** e.g. `arn`, `accessKeyId`, `sessionName` from the EKS authenticator. */
  extra: Record<string, string[]>;
}

const PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

export async function selfSubjectReview(connection: KubeConnection, options: ReviewOptions = {}): Promise<SelfSubject> {
  const body = { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" };
  const out = (await kubeJsonRequest(connection, "POST", PATH, body, options)) as {
    status?: { userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } };
  };
  const info = out.status?.userInfo ?? {};
  return { username: info.username ?? "", ...(info.uid ? { uid: info.uid } : {}), groups: info.groups ?? [], extra: info.extra ?? {} };
}
