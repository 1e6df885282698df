/**
 * moto behind the fault proxy (test/bed/fault-proxy.ts in plain-HTTP mode): point the product's
 * AWS SDK clients at `url` (AWS_ENDPOINT_URL, see `env()`) and inject faults per service and
 * operation — ECR and Secrets Manager by X-Amz-Target operation (`GetAuthorizationToken`,
 * `PutSecretValue`, …), EKS by path (`/clusters/<name>`).
 *
 * moto's ECR tokens expire on a fixed date in 2015. Code that judges tokens by the real clock (a
 * packaged function in another process) gets them with a fresh `expiresAt` instead: the proxy
 * rewrites GetAuthorizationToken answers (`freshTokens`, on by default and re-armed by
 * `resetFaults()`); the token itself is moto's.
 */
import { FaultProxy } from "../bed/fault-proxy";
import { motoEnv, startMoto, type MotoServer } from "./moto";

export interface ProxiedMoto {
  moto: MotoServer;
  proxy: FaultProxy;
  /** The proxy's http://127.0.0.1:PORT (what the code under test talks to). */
  url: string;
  /** SDK environment (endpoint = the proxy, dummy credentials). */
  env(region?: string): Record<string, string>;
  /** Removes every fault and resets the request log (fresh tokens stay on if they were). */
  resetFaults(): void;
  stop(): Promise<void>;
}

/** Rewrites moto's GetAuthorizationToken answers to expire `hours` from now (rule id). */
export function freshEcrTokens(proxy: FaultProxy, hours = 12): number {
  const expiresAt = Math.floor(Date.now() / 1000) + hours * 3600;
  return proxy.rewrite('"expiresAt":\\s*[0-9.eE+-]+', `"expiresAt": ${expiresAt}`, { match: { operation: "GetAuthorizationToken" } });
}

/**
 * Rewrites moto's GetAuthorizationToken answers into tokens of the real shape: the password is
 * base64 of a JSON envelope carrying `expiration` (as ECR's; docs/facts.md), `hours` from now,
 * and `expiresAt` says the same instant. So code that reads the expiry embedded in a pull Secret
 * (the doctor's oldest-token line, diagnose) sees one, by the real clock. The envelope is short
 * (36 bytes) so the Debian registry's bcrypt htpasswd (72 bytes at most) can hold it. Use with
 * `freshTokens: false` (this sets `expiresAt` itself). Returns the credential ECR now "issues".
 */
export function ecrTokensWithEmbeddedExpiry(proxy: FaultProxy, hours = 12): { username: string; password: string } {
  const expiration = Math.floor(Date.now() / 1000) + hours * 3600;
  const password = Buffer.from(JSON.stringify({ expiration })).toString("base64");
  const token = Buffer.from(`AWS:${password}`).toString("base64");
  const match = { operation: "GetAuthorizationToken" };
  proxy.rewrite('"authorizationToken":\\s*"[^"]*"', `"authorizationToken": "${token}"`, { match });
  proxy.rewrite('"expiresAt":\\s*[0-9.eE+-]+', `"expiresAt": ${expiration}`, { match });
  return { username: "AWS", password };
}

export async function startProxiedMoto(options: { freshTokens?: boolean } = {}): Promise<ProxiedMoto> {
  const fresh = options.freshTokens ?? true;
  const moto = await startMoto();
  let proxy: FaultProxy;
  try {
    proxy = await FaultProxy.start({ target: moto.url, control: false });
  } catch (error) {
    await moto.stop();
    throw error;
  }
  if (fresh) freshEcrTokens(proxy);
  return {
    moto,
    proxy,
    url: proxy.url,
    env: (region = "us-east-1") => motoEnv(proxy.url, region),
    resetFaults() {
      proxy.reset();
      if (fresh) freshEcrTokens(proxy);
    },
    async stop() {
      await proxy.stop();
      await moto.stop();
    },
  };
}
