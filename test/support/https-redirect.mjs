// Test-only preload (`node --import test/support/https-redirect.mjs …`): node:https requests to a
// host listed in TEST_HTTPS_REDIRECT (`host=127.0.0.1:PORT,host2=…`) connect to that address
// instead. The host name stays what the product asked for — in the TLS handshake (SNI and the
// certificate check, so the local server's certificate must name it and be trusted through
// NODE_EXTRA_CA_CERTS) and in the Host header — so the process under test talks to "the ECR
// registry" on 127.0.0.1 with no change to the product and no insecure option.
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

const targets = new Map(
  (process.env.TEST_HTTPS_REDIRECT ?? "")
    .split(",")
    .filter((entry) => entry.includes("="))
    .map((entry) => entry.split("=")),
);
const original = https.request;

https.request = function request(...args) {
  const [options] = args;
  if (options !== null && typeof options === "object" && !(options instanceof URL)) {
    const host = options.hostname ?? options.host;
    const target = targets.get(host);
    if (target !== undefined) {
      const [hostname, port] = target.split(":");
      args[0] = { ...options, hostname, host: hostname, port: Number(port), servername: host, headers: { ...options.headers, host } };
    }
  }
  return original.apply(this, args);
};
// The ESM view of node:https (`import { request } from "node:https"`) follows the change.
syncBuiltinESMExports();
