// An HTTP proxy in front of moto (127.0.0.1, free port) that plays the part of the target
// accounts' trust policies, which moto does not evaluate:
//   - it records every sts:AssumeRole request (RoleArn, RoleSessionName, ExternalId, and the
//     region of the SigV4 credential scope, i.e. which regional STS endpoint was signed for);
//   - for a role given its trust policy (`trust`), a request the policy does not allow — the
//     caller not a principal of an Allow statement for sts:AssumeRole, or its ExternalId not the
//     one a StringEquals sts:ExternalId condition requires — gets the AccessDenied answer STS
//     gives (same XML shape and message); a role without one is assumed as moto does (always);
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

/** A role's trust policy (AssumeRolePolicyDocument), its references resolved. */
export interface TrustPolicy {
  Statement: Array<{
    Effect: string;
    Principal?: { AWS?: string | string[] };
    Action: string | string[];
    Condition?: Record<string, Record<string, string>>;
  }>;
}

export interface StsTrustProxy {
  url: string;
  records: AssumeRoleRecord[];
  /** Evaluates AssumeRole requests for `roleArn` against its trust policy. */
  trust(roleArn: string, policy: TrustPolicy): void;
  stop(): Promise<void>;
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Whether `policy` lets `caller` (an IAM role ARN, or undefined when unknown) assume the role with
 * `externalId`. Only what the product's templates use is understood (Principal.AWS as a role ARN
 * or an account root, StringEquals on sts:ExternalId); any other condition throws, so a policy
 * this cannot judge never passes by accident.
 */
export function trustAllows(policy: TrustPolicy, caller: string | undefined, externalId: string | undefined): boolean {
  const account = caller === undefined ? undefined : /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(caller)?.[1];
  return policy.Statement.some((statement) => {
    if (statement.Effect !== "Allow" || !asList(statement.Action).includes("sts:AssumeRole")) return false;
    const principals = asList(statement.Principal?.AWS);
    if (caller === undefined || !(principals.includes(caller) || principals.includes(`arn:aws:iam::${account}:root`))) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) => {
      if (operator !== "StringEquals" || Object.keys(keys).some((k) => k !== "sts:ExternalId"))
        throw new Error(`sts-trust: cannot evaluate the condition ${operator} ${JSON.stringify(keys)}`);
      return keys["sts:ExternalId"] === externalId;
    });
  });
}

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

/**
 * `callers`: access key id → the IAM role ARN it signs as (the principal a trust policy names;
 * a key not listed is no principal of any policy).
 */
export async function startStsTrustProxy(
  target: string,
  callers: Record<string, string>,
  onAssumed: (c: AssumedCredentials) => Promise<void>,
): Promise<StsTrustProxy> {
  const records: AssumeRoleRecord[] = [];
  const policies = new Map<string, TrustPolicy>();
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
          const policy = policies.get(record.roleArn);
          const caller = record.callerAccessKeyId === undefined ? undefined : callers[record.callerAccessKeyId];
          if (policy !== undefined && !trustAllows(policy, caller, record.externalId)) {
            record.refused = true;
            const message = `User: ${caller ?? "arn:aws:iam::000000000000:user/unknown"} is not authorized to perform: sts:AssumeRole on resource: ${record.roleArn}`;
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
    trust(roleArn, policy) {
      policies.set(roleArn, policy);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
