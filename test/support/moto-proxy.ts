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
