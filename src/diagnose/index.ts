// Diagnosis of ImagePullBackOff: read-only collection from one cluster and the pure
// classification of each stuck container into a Cause.
export * from "./classify";
export * from "./collect";
