// One run: a Request executed end to end into a Report (rotation, then the optional Kubernetes
// and diagnose steps it is given), and the logs/metrics of an invocation.
export * from "./run";
export * from "./telemetry";
