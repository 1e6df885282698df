/** A throwaway self-signed certificate for 127.0.0.1 (openssl), for local HTTPS stubs in tests. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Key type: RSA (client-node's TLS stack) or EC P-256 (as kubectl meets on EKS). */
const KEY_ARGS = { rsa: ["-newkey", "rsa:2048"], ec: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] } as const;

/**
 * Writes key.pem and cert.pem (valid one day, SAN IP:127.0.0.1 unless `altNames` says otherwise,
 * e.g. `["DNS:123456789012.dkr.ecr.us-east-1.amazonaws.com"]`) into `dir` and returns them.
 */
export function selfSignedCert(dir: string, keyType: keyof typeof KEY_ARGS, altNames: string[] = ["IP:127.0.0.1"]): { key: Buffer; cert: Buffer } {
  const keyout = join(dir, "key.pem");
  const out = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      ...KEY_ARGS[keyType],
      "-nodes",
      "-keyout",
      keyout,
      "-out",
      out,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      `subjectAltName=${altNames.join(",")}`,
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(keyout), cert: readFileSync(out) };
}
