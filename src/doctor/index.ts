// The doctor: a read-only checklist of whether the deployment works end to end (AWS identity,
// tokens, registries, secrets; the clusters' half is loaded only when clusters are configured).
export * from "./doctor";
export * from "./types";
