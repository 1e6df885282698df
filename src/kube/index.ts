// Kubernetes: the narrow KubeApi port (types), its node:https implementation, and the apply
// engine (pure decisions, namespace selection, retries, paging). The @kubernetes/client-node
// adapter (client.ts) is not re-exported: it is loaded with `await import` only when asked for.
export * from "./types";
export * from "./apply";
export * from "./decide";
export * from "./namespaces";
export * from "./retry";
export * from "./http-client";
export * from "./whoami";
export * from "./reviews";
export * from "./rights";
