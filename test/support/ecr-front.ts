/**
 * "The ECR registry" for a CLI child process: a local TLS front whose certificate names the ECR
 * hosts, passing the bytes on to a Debian registry (registry.ts). The child runs with
 * {@link ECR_FRONT_PRELOAD} (https-redirect.mjs) and {@link EcrFront.env}: its node:https
 * requests to those hosts connect to the front, keeping the host name for SNI, the certificate
 * check (the front's CA in NODE_EXTRA_CA_CERTS) and the Host header — the product's HTTPS
 * requests run unchanged, with no insecure option.
 */
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createServer } from "node:tls";
import type { Registry } from "./registry";
import { selfSignedCert } from "./tls";

/** Node arguments before the script: the preload that sends the ECR hosts to the front. */
export const ECR_FRONT_PRELOAD = ["--import", "./test/support/https-redirect.mjs"];

export interface EcrFront {
  port: number;
  /** PEM of the front's (self-signed) certificate. */
  caFile: string;
  /** NODE_EXTRA_CA_CERTS and TEST_HTTPS_REDIRECT for the child. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the front on 127.0.0.1 for `hosts`; its certificate and key are written under `dir`. */
export async function startEcrFront(registry: Registry, hosts: string[], dir: string): Promise<EcrFront> {
  const { key, cert } = selfSignedCert(
    dir,
    "ec",
    hosts.map((h) => `DNS:${h}`),
  );
  const caFile = join(dir, "ecr-front.pem");
  writeFileSync(caFile, cert);
  const [registryHost, registryPort] = registry.host.split(":");
  const server = createServer({ key, cert }, (socket) => {
    const upstream = connect(Number(registryPort), registryHost);
    socket.pipe(upstream).pipe(socket);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    caFile,
    env: () => ({ NODE_EXTRA_CA_CERTS: caFile, TEST_HTTPS_REDIRECT: hosts.map((h) => `${h}=127.0.0.1:${port}`).join(",") }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
