/** What the classifier of a diagnosis takes in: reduced Secrets and a stuck container with all that was read about it. */
import type { StuckContainer } from "../report/report";

/** One `auths` entry, reduced: the key (a registry host/URL), who, and when its ECR password expires. */
export interface ReducedEntry {
  key: string;
  username?: string;
  /** Expiry embedded in an ECR password; undefined when the password has another shape. */
  expiresAt?: Date;
}

/** A referenced pull Secret, reduced to what a diagnosis needs. */
export interface ReducedSecret {
  name: string;
  exists: boolean;
  type?: string;
  entries: ReducedEntry[];
  /** Why the content could not be read (not JSON, no `auths`); nothing of the content itself. */
  invalid?: string;
}

/** A stuck container with everything read about it. */
export interface StuckContainerInput extends StuckContainer {
  /** `spec.serviceAccountName` (undefined = `default`). */
  serviceAccountName?: string;
  /** `spec.imagePullSecrets` names of the pod. */
  podPullSecrets: string[];
  /** The ServiceAccount's `imagePullSecrets` now; undefined when the SA was not found or not read. */
  serviceAccountPullSecrets?: string[];
  /** The pod's referenced Secrets, reduced (same order as podPullSecrets). */
  secrets: ReducedSecret[];
  /**
   * The kubelet's pull error for this container: the error in its waiting message, else the
   * newest `Failed` event for the container that is the error (not `Error: ErrImagePull`).
   */
  detail?: string;
  /** The namespace's ServiceAccounts with their imagePullSecrets (read when the pod has none). */
  namespaceServiceAccounts?: Array<{ name: string; pullSecrets: string[] }>;
  /** Per missing Secret name: the other namespaces where a Secret of that name exists. */
  secretsElsewhere?: Record<string, string[]>;
  /** Registry hosts this deployment keeps fresh (ECR_REGISTRIES). */
  configuredHosts: string[];
  /** The pull secret the product writes (PULL_SECRET_NAME). */
  pullSecretName?: string;
  /** The ServiceAccounts a heal adds the pull secret to (PATCH_SERVICE_ACCOUNTS). */
  patchServiceAccounts?: readonly string[];
  /** The pod's controller (ownerReferences), when it has one: how the pod is recreated. */
  owner?: { kind: string; name: string };
  now: Date;
}
