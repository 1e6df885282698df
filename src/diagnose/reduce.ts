/**
 * What a diagnosis keeps of the objects it reads, reduced on arrival (pure): a referenced
 * Secret without its credential material, and the stuck containers of a pod.
 */
import { credentialsOfEntry, parseDockerConfig, type DockerConfigEntry } from "../formats/dockerconfig";
import { expiryEmbeddedInPassword } from "../formats/ecr-token";
import type { KubePod, KubeSecret } from "../kube/types";
import type { StuckContainer } from "../report/report";
import type { ReducedEntry, ReducedSecret } from "./types";
import { errorInWaitingMessage } from "./message";

/** Waiting reasons of a container stuck on its image (Container Insights counts the same three). */
export const STUCK_REASONS: readonly string[] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/** A Secret reduced to what a diagnosis needs; its credential material is dropped here. */
export function reduceSecret(name: string, secret: KubeSecret | undefined): ReducedSecret {
  if (secret === undefined) return { name, exists: false, entries: [] };
  const type = secret.type ?? "Opaque";
  const reduced: ReducedSecret = { name, exists: true, type, entries: [] };
  const key = type === "kubernetes.io/dockercfg" ? ".dockercfg" : type === "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson" : undefined;
  if (key === undefined) return reduced;
  const raw = secret.data?.[key];
  if (raw === undefined) {
    reduced.invalid = `no ${key} key`;
    return reduced;
  }
  let auths: Record<string, DockerConfigEntry>;
  try {
    const text = Buffer.from(raw, "base64").toString("utf8");
    if (key === ".dockercfg") {
      const value: unknown = JSON.parse(text);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("the docker config is not a JSON object");
      auths = value as Record<string, DockerConfigEntry>;
    } else auths = parseDockerConfig(text).auths;
  } catch (error) {
    // parseDockerConfig's messages never carry content; JSON.parse's might: use a fixed text.
    reduced.invalid = error instanceof SyntaxError ? "the docker config is not valid JSON" : (error as Error).message;
    return reduced;
  }
  for (const [host, entry] of Object.entries(auths)) {
    const out: ReducedEntry = { key: host };
    if (typeof entry === "object" && entry !== null) {
      const creds = credentialsOfEntry(entry);
      if (creds) {
        out.username = creds.username;
        const expiresAt = expiryEmbeddedInPassword(creds.password);
        if (expiresAt) out.expiresAt = expiresAt;
      }
    }
    reduced.entries.push(out);
  }
  return reduced;
}

/** A stuck container as read from its pod: the report's fields plus what classification needs. */
export interface Stuck extends StuckContainer {
  uid?: string;
  /** The pod's controller (its ownerReference with controller: true). */
  controller?: { kind: string; name: string };
  serviceAccountName?: string;
  pullSecrets: string[];
  /** The pull error carried by the waiting message, if any. */
  detail?: string;
  /** The pod's controller, when it has one. */
  owner?: { kind: string; name: string };
}

/** The stuck containers of one pod (init containers included). */
export function stuckContainersOf(pod: KubePod): Stuck[] {
  const out: Stuck[] = [];
  const specImages = new Map<string, string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) if (c.image) specImages.set(c.name, c.image);
  const pullSecrets = [...new Set((pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? "").filter((n) => n !== ""))];
  const controller = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind && o.name);
  const owner = controller ? { kind: controller.kind!, name: controller.name! } : undefined;
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (!waiting?.reason || !STUCK_REASONS.includes(waiting.reason)) continue;
    const detail = errorInWaitingMessage(waiting.message);
    out.push({
      namespace: pod.metadata.namespace ?? "",
      pod: pod.metadata.name,
      ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
      ...(owner ? { controller: owner } : {}),
      container: status.name,
      image: specImages.get(status.name) ?? status.image ?? "",
      reason: waiting.reason,
      ...(waiting.message ? { message: waiting.message } : {}),
      ...(detail ? { detail } : {}),
      ...(pod.spec?.serviceAccountName ? { serviceAccountName: pod.spec.serviceAccountName } : {}),
      ...(owner ? { owner } : {}),
      pullSecrets,
    });
  }
  return out;
}
