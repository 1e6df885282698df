// Wrapper module that builds the real External Secrets Operator controller from the Go module
// proxy (scripts/build-eso.sh). external-secrets v0.16.2 is a single module; its only replace
// (the sprig fork) is repeated here because a dependency's replaces do not apply to the main
// module. The external-secrets version below is the one the bed runs; its CRDs are installed too.
module ecr-token-rotator/test/bed/eso

go 1.24.2

require github.com/external-secrets/external-secrets v0.16.2

replace github.com/Masterminds/sprig/v3 => github.com/external-secrets/sprig/v3 v3.3.0
