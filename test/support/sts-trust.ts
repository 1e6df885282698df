// An HTTP proxy in front of moto (127.0.0.1, free port) that plays the part of the target
// accounts' trust policies, which moto does not evaluate:
//   - it records every sts:AssumeRole request (RoleArn, RoleSessionName, ExternalId, and the
//     region of the SigV4 credential scope, i.e. which regional STS endpoint was signed for);
//   - for a role with a required ExternalId, a request without exactly that ExternalId gets the
//     AccessDenied answer STS gives (same XML shape and message);
//   - after moto issued credentials, `onAssumed` sees them (the test registers that identity
//     with the bed's webhook: the EKS access entry of the role, at run time).
// Every other request is forwarded to moto unchanged.
import http from "node:http";
import { listenOnPort0 } from "./ports";

export interface AssumeRoleRecord {
  roleArn: string;
  sessionName: string;
  externalId: string | undefined;
  /** Region of the request's credential scope (the STS endpoint it was signed for). */
  signedRegion: string | undefined;
  /** The caller's access key id (from the Authorization header). */
  callerAccessKeyId: string | undefined;
  refused: boolean;
}

export interface AssumedCredentials {
  roleArn: string;
  sessionName: string;
  assumedRoleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface StsTrustProxy {
  url: string;
  records: AssumeRoleRecord[];
  /** role ARN → the ExternalId its trust policy requires. */
  requireExternalId(roleArn: string, externalId: string): void;
  stop(): Promise<void>;
}

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

export async function startStsTrustProxy(target: string, onAssumed: (c: AssumedCredentials) => Promise<void>): Promise<StsTrustProxy> {
  const records: AssumeRoleRecord[] = [];
  const required = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const form = new URLSearchParams(body.toString("utf8"));
        const auth = String(req.headers.authorization ?? "");
        const scope = /Credential=([^/]+)\/\d{8}\/([a-z0-9-]+)\/sts\//.exec(auth);
        const isAssumeRole = req.method === "POST" && form.get("Action") === "AssumeRole";
        let record: AssumeRoleRecord | undefined;
        if (isAssumeRole) {
          record = {
            roleArn: form.get("RoleArn") ?? "",
            sessionName: form.get("RoleSessionName") ?? "",
            externalId: form.get("ExternalId") ?? undefined,
            signedRegion: scope?.[2],
            callerAccessKeyId: scope?.[1],
            refused: false,
          };
          records.push(record);
          const want = required.get(record.roleArn);
          if (want !== undefined && record.externalId !== want) {
            record.refused = true;
            const message = `User: arn:aws:sts::123456789012:assumed-role/ecr-token-rotator/function is not authorized to perform: sts:AssumeRole on resource: ${record.roleArn}`;
            res.writeHead(403, { "content-type": "text/xml" });
            res.end(
              `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${message}</Message></Error><RequestId>trust-policy-emulation</RequestId></ErrorResponse>`,
            );
            return;
          }
        }
        const headers = { ...req.headers };
        delete headers.host;
        const upstream = await fetch(new URL(req.url ?? "/", target), {
          method: req.method,
          headers: headers as Record<string, string>,
          body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
        });
        const text = Buffer.from(await upstream.arrayBuffer());
        if (record && upstream.ok) {
          const xml = text.toString("utf8");
          await onAssumed({
            roleArn: record.roleArn,
            sessionName: record.sessionName,
            assumedRoleArn: tag(xml, "Arn") ?? "",
            accessKeyId: tag(xml, "AccessKeyId") ?? "",
            secretAccessKey: tag(xml, "SecretAccessKey") ?? "",
            sessionToken: tag(xml, "SessionToken") ?? "",
          });
        }
        const out: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (!["content-length", "transfer-encoding", "connection", "content-encoding"].includes(k)) out[k] = v;
        });
        res.writeHead(upstream.status, out);
        res.end(text);
      })().catch((error: unknown) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`sts-trust proxy: ${String(error)}`);
      });
    });
  });
  const port = await listenOnPort0(server);
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    requireExternalId(roleArn, externalId) {
      required.set(roleArn, externalId);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
