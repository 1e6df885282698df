/**
 * "Who does the cluster think we are?": one `SelfSubjectReview` (authentication.k8s.io/v1,
 * Kubernetes ≥ 1.28; every authenticated user may create one). Over node:https with the cluster
 * CA; failures are {@link KubeApiError}s like the adapters' (never the response body).
 */
import { request } from "node:https";
import { networkErrorCode } from "./retry";
import { scrub } from "../shared/redact-text";
import { KubeApiError, type KubeConnection } from "./types";

export interface SelfSubject {
  username: string;
  uid?: string;
  groups: string[];
  /** e.g. `arn`, `accessKeyId`, `sessionName` from the EKS authenticator. */
  extra: Record<string, string[]>;
}

const PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

export function selfSubjectReview(connection: KubeConnection, timeoutMs = 15_000): Promise<SelfSubject> {
  const base = new URL(connection.server);
  const url = base.origin;
  const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
  const where = { verb: "create" as const, url };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: "https:",
        hostname: base.hostname,
        port: base.port || 443,
        method: "POST",
        path: base.pathname.replace(/\/+$/, "") + PATH,
        ...(connection.caData ? { ca: Buffer.from(connection.caData, "base64") } : {}),
        headers: {
          authorization: `Bearer ${connection.token}`,
          "content-type": "application/json",
          accept: "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "ecr-token-rotator",
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          let parsed: { message?: unknown; status?: { userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } } =
            {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            // not JSON: status code only
          }
          if (status >= 200 && status < 300) {
            const info = parsed.status?.userInfo ?? {};
            resolve({ username: info.username ?? "", ...(info.uid ? { uid: info.uid } : {}), groups: info.groups ?? [], extra: info.extra ?? {} });
            return;
          }
          const message = typeof parsed.message === "string" ? scrub(parsed.message) : status === 401 ? "Unauthorized" : "";
          reject(new KubeApiError(status, message, where));
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (error) => {
      const networkCode = networkErrorCode(error);
      const code = (error as { code?: unknown }).code;
      reject(
        networkCode
          ? new KubeApiError(0, "", { ...where, networkCode })
          : new KubeApiError(-1, `request to ${url} failed${typeof code === "string" ? ` (${code})` : ""}`, where),
      );
    });
    req.end(body);
  });
}
