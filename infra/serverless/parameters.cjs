'use strict';
/**
 * The settings of the stack, one entry each: the osls stage parameter (serverless.yml `params`),
 * the CloudFormation parameter of the standalone template (infra/cloudformation, `npm run
 * package`), the function's environment variable, the default, and the function's validation as
 * far as a CloudFormation AllowedPattern/AllowedValues/MinValue/MaxValue can express it.
 *
 * `shape: true` marks the settings the resources are computed from (IAM ARNs, per-cluster alarms
 * and access entries, the VPC, the freshness alarm's numbers): the standalone template is rendered
 * for one value of them (`npm run package -- --param key=value`) and pins that value with
 * AllowedValues, so a deploy cannot change them without re-rendering (the IAM policy would no
 * longer match). The others are free CloudFormation parameters.
 *
 * Patterns are Java regular expressions (CloudFormation) that also work in JavaScript (tests).
 */

const partitions = require('../../src/formats/aws-partitions.json').partitions;

// ---- patterns (each one item; lists are built with listOf) ----

const COMPASS = ['north', 'south', 'east', 'west', 'central', 'northeast', 'northwest', 'southeast', 'southwest'];
/**
 * An AWS region as the function accepts it without a typo warning: a partition's prefix, a middle
 * word some known region or a compass direction uses, a number (`us-west-3` passes, `us-esat-1` and
 * `foo_bar` do not). Built from the same partition data the function checks against.
 */
function regionPattern() {
  const words = new Set(COMPASS);
  const prefixes = new Set();
  for (const p of partitions) {
    for (const region of p.regions) {
      const m = /^([a-z]+)-(.+)-\d+$/.exec(region);
      if (m) {
        prefixes.add(m[1]);
        words.add(m[2]);
      }
    }
    // The aws partition's pattern names prefixes no region uses yet.
    const listed = /^\^\(([a-z|]+)\)/.exec(p.regionRegex);
    if (listed) for (const x of listed[1].split('|')) prefixes.add(x);
  }
  const alternation = (set) => [...set].sort((a, b) => b.length - a.length || a.localeCompare(b)).join('|');
  return `(?:${alternation(prefixes)})-(?:${alternation(words)})-[0-9]{1,2}`;
}

const REGION = regionPattern();
const ACCOUNT = '[0-9]{12}';
const CLUSTER_NAME = '[0-9A-Za-z][A-Za-z0-9_-]{0,99}';
const ECR_DOMAIN = '(?:amazonaws\\.(?:com(?:\\.cn)?|eu)|on\\.(?:aws|amazonwebservices\\.com\\.cn)|sc2s\\.sgov\\.gov|c2s\\.ic\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)';
const REGISTRY = `(?:https://)?(?:${ACCOUNT}\\.dkr[.-]ecr(?:-fips)?\\.${REGION}\\.${ECR_DOMAIN}|public\\.ecr\\.aws)(?:/|/v[12]/?)?`;
const CLUSTER_REF = `(?:(?:${REGION}:)?${CLUSTER_NAME}|arn:aws[a-z-]*:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER_NAME})`;
const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_SUBDOMAIN = `${DNS_LABEL}(?:\\.${DNS_LABEL})*`;
const KMS_KEY_ARN = `arn:aws[a-z-]*:kms:${REGION}:${ACCOUNT}:key/[A-Za-z0-9-]+`;
const ROLE_OR_ACCOUNT = `(?:${ACCOUNT}|arn:aws[a-z-]*:iam::${ACCOUNT}:(?:root|role/[\\x21-\\x7e]{1,512}|user/[\\x21-\\x7e]{1,512}))`;
const SECRET_NAME = '[A-Za-z0-9/_+=.@-][A-Za-z0-9/_+=.@{}-]{0,511}';
const REPOSITORY_PREFIX = '[a-z0-9][a-z0-9._/-]{0,255}';
const TAG = '[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}=[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}';

/** A comma-separated list of items matching `item`, or the empty string. */
const listOf = (item) => `^(?:${item}(?:,${item})*)?$`;
const one = (item) => `^${item}$`;
const optional = (item) => `^(?:${item})?$`;

const BOOL = ['true', 'false'];
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/**
 * key: osls stage parameter; cfn: CloudFormation parameter; env: function environment variable.
 * type: 'Number' for CloudFormation numbers (min/max), 'String' otherwise.
 */
const SETTINGS = [
  // --- what to rotate ---
  { key: 'ecrRegistries', cfn: 'EcrRegistries', env: 'ECR_REGISTRIES', default: '', shape: true, pattern: listOf(REGISTRY), description: 'ECR registry hosts, comma-separated; empty = the own registry in this region' },
  { key: 'pullRepositories', cfn: 'PullRepositories', env: null, default: '', shape: true, pattern: listOf(REPOSITORY_PREFIX), description: 'IAM only: repository name prefixes the role may pull (e.g. team-a/,base); empty = every repository of the configured registries (repository/*)' },
  { key: 'pullThroughCachePrefixes', cfn: 'PullThroughCachePrefixes', env: null, default: '', shape: true, pattern: listOf(REPOSITORY_PREFIX), description: 'IAM only: pull-through cache rule prefixes (the first pull creates the repository)' },
  { key: 'secretName', cfn: 'SecretName', env: 'SECRET_NAME', default: 'ecr/{account}/{region}/credentials', shape: true, pattern: one(SECRET_NAME), description: 'Secret name template ({account}, {region}); also the exact secret ARNs of the IAM policy' },
  { key: 'combinedSecretName', cfn: 'CombinedSecretName', env: 'COMBINED_SECRET_NAME', default: '', shape: true, pattern: optional('[A-Za-z0-9/_+=.@-]{1,512}'), description: 'One secret with every registry (no placeholders); empty = none' },
  { key: 'kmsKeyArn', cfn: 'KmsKeyArn', env: 'KMS_KEY_ID', default: '', shape: true, pattern: optional(KMS_KEY_ARN), description: 'Customer-managed KMS key ARN for the secrets; empty = aws/secretsmanager' },
  { key: 'secretTags', cfn: 'SecretTags', env: 'SECRET_TAGS', default: '', pattern: listOf(TAG), description: 'Tags of the created secrets, k=v,k=v' },
  { key: 'adoptExistingSecret', cfn: 'AdoptExistingSecret', env: 'ADOPT_EXISTING_SECRET', default: 'false', values: BOOL, description: 'Take over an existing secret that lacks the ownership tag' },
  { key: 'tokenMinValidityMinutes', cfn: 'TokenMinValidityMinutes', env: 'TOKEN_MIN_VALIDITY_MINUTES', default: '60', type: 'Number', min: 0, max: 660, description: 'Reuse a stored token with at least this many minutes left' },
  { key: 'writeDebounceSeconds', cfn: 'WriteDebounceSeconds', env: 'WRITE_DEBOUNCE_SECONDS', default: '600', type: 'Number', min: 600, max: 3600, description: 'No new secret version within this many seconds of the last (at least 600: Secrets Manager keeps about 100 versions)' },
  { key: 'secretReaders', cfn: 'SecretReaders', env: 'SECRET_READERS', default: '', shape: true, pattern: listOf(ROLE_OR_ACCOUNT), description: 'Account IDs / principal ARNs that may read the secrets (needs KmsKeyArn)' },
  { key: 'secretReplicaRegions', cfn: 'SecretReplicaRegions', env: 'SECRET_REPLICA_REGIONS', default: '', shape: true, pattern: listOf(`${REGION}(?::${KMS_KEY_ARN})?`), description: 'Replica regions of the secrets, region[:kmsKeyArn],...' },
  { key: 'probeImage', cfn: 'ProbeImage', env: 'PROBE_IMAGE', default: '', pattern: optional('[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})'), description: 'repository:tag the doctor probes on every registry; empty = none' },
  // --- Kubernetes fallback ---
  { key: 'eksClusters', cfn: 'EksClusters', env: 'EKS_CLUSTERS', default: '', shape: true, pattern: `^(?:\\[.*\\]|${CLUSTER_REF}(?:,${CLUSTER_REF})*)?$`, description: 'EKS clusters, [region:]name or cluster ARN, comma-separated (or the JSON form, docs/fleet.md)' },
  { key: 'fallbackMode', cfn: 'FallbackMode', env: 'FALLBACK_MODE', default: 'on-heal', values: ['off', 'on-heal', 'always'], description: 'When pull Secrets are written into the clusters' },
  { key: 'targetNamespaces', cfn: 'TargetNamespaces', env: 'TARGET_NAMESPACES', default: '', pattern: `^(?:\\*|${DNS_LABEL}(?:,${DNS_LABEL})*)?$`, description: 'Namespaces, comma-separated; empty = all' },
  { key: 'namespaceSelector', cfn: 'NamespaceSelector', env: 'NAMESPACE_SELECTOR', default: '', description: 'Namespace label selector (instead of TargetNamespaces)' },
  { key: 'excludeNamespaces', cfn: 'ExcludeNamespaces', env: 'EXCLUDE_NAMESPACES', default: '', pattern: listOf(DNS_LABEL), description: 'Namespaces left out of "all"; empty = kube-system,kube-public,kube-node-lease' },
  { key: 'pullSecretName', cfn: 'PullSecretName', env: 'PULL_SECRET_NAME', default: 'ecr-pull-secret', pattern: one(DNS_SUBDOMAIN), description: 'Name of the pull Secret in each namespace' },
  { key: 'patchServiceAccounts', cfn: 'PatchServiceAccounts', env: 'PATCH_SERVICE_ACCOUNTS', default: '', pattern: listOf(DNS_SUBDOMAIN), description: 'ServiceAccounts that get the pull Secret in imagePullSecrets' },
  { key: 'esoResync', cfn: 'EsoResync', env: 'ESO_RESYNC', default: 'off', description: 'ExternalSecrets to force-sync on a heal: a label selector, * or off' },
  { key: 'kubeConcurrency', cfn: 'KubeConcurrency', env: 'KUBE_CONCURRENCY', default: '16', type: 'Number', min: 1, max: 64, description: 'Kubernetes requests in flight per cluster' },
  { key: 'kubeClusterConcurrency', cfn: 'KubeClusterConcurrency', env: 'KUBE_CLUSTER_CONCURRENCY', default: '4', type: 'Number', min: 1, max: 32, description: 'Clusters worked on at once' },
  { key: 'adoptExistingPullSecrets', cfn: 'AdoptExistingPullSecrets', env: 'ADOPT_EXISTING_PULL_SECRETS', default: 'false', values: BOOL, description: 'Take over pull Secrets the product did not create' },
  { key: 'restartStuckPods', cfn: 'RestartStuckPods', env: 'RESTART_STUCK_PODS', default: 'false', values: BOOL, description: 'After a heal, evict the controller-owned stuck pods its fix cannot reach (needs infra/k8s/pod-restart-rbac.yaml per namespace)' },
  { key: 'restartMaxPods', cfn: 'RestartMaxPods', env: 'RESTART_MAX_PODS', default: '20', type: 'Number', min: 1, max: 500, description: 'At most this many pods restarted per cluster and run' },
  { key: 'recordEvents', cfn: 'RecordEvents', env: 'RECORD_EVENTS', default: 'true', values: BOOL, description: 'Kubernetes Events on stuck pods and written pull Secrets' },
  { key: 'kubeClient', cfn: 'KubeClient', env: 'KUBE_CLIENT', default: 'https', values: ['https', 'client-node'], description: 'Kubernetes client' },
  { key: 'createEksAccessEntries', cfn: 'CreateEksAccessEntries', env: null, default: 'false', shape: true, values: BOOL, description: 'An EKS access entry (group ecr-token-rotator) per EksClusters entry in this region' },
  // --- triggers ---
  { key: 'scheduleRate', cfn: 'ScheduleRate', env: null, default: 'rate(10 hours)', shape: true, pattern: '^(?:rate\\([0-9]+ (?:minutes?|hours?|days?)\\)|cron\\(.+\\))$', description: 'EventBridge Scheduler expression (the freshness alarm window depends on it)' },
  { key: 'scheduleEnabled', cfn: 'ScheduleEnabled', env: null, default: 'ENABLED', values: ['ENABLED', 'DISABLED'], description: 'ENABLED or DISABLED' },
  { key: 'pullAlarmClusters', cfn: 'PullAlarmClusters', env: null, default: '', shape: true, pattern: listOf(CLUSTER_NAME), description: 'Clusters with a pull-failure alarm; empty = EksClusters in this region' },
  { key: 'pullAlarmEvaluationMinutes', cfn: 'PullAlarmEvaluationMinutes', env: null, default: '3', shape: true, type: 'Number', min: 1, max: 60, description: 'Pull-failure alarm: N one-minute periods ...' },
  { key: 'pullAlarmDatapoints', cfn: 'PullAlarmDatapoints', env: null, default: '2', shape: true, type: 'Number', min: 1, max: 60, description: '... of which M must show a waiting container' },
  { key: 'healAlarmNames', cfn: 'HealAlarmNames', env: null, default: '', shape: true, pattern: listOf('[^,]{1,255}'), description: 'Alarms defined elsewhere that heal through EventBridge' },
  // --- operations ---
  { key: 'serviceName', cfn: 'ServiceName', env: 'POWERTOOLS_SERVICE_NAME', default: 'ecr-token-rotator', pattern: one('[A-Za-z0-9_.-]{1,100}'), description: 'The metric dimension "service"' },
  { key: 'memorySize', cfn: 'MemorySize', env: null, default: 256, type: 'Number', min: 128, max: 10240, description: 'Function memory (MB)' },
  { key: 'timeoutSeconds', cfn: 'TimeoutSeconds', env: null, default: 300, type: 'Number', min: 10, max: 900, description: 'Function timeout (s)' },
  { key: 'maximumEventAgeSeconds', cfn: 'MaximumEventAgeSeconds', env: null, default: 3600, type: 'Number', min: 60, max: 21600, description: 'Async invocations older than this go to the failure queue' },
  { key: 'logRetentionDays', cfn: 'LogRetentionDays', env: null, default: 30, type: 'Number', values: LOG_RETENTION_DAYS.map(String), description: 'Log retention (days)' },
  { key: 'freshnessThresholdSeconds', cfn: 'FreshnessThresholdSeconds', env: null, default: 10800, shape: true, type: 'Number', min: 60, max: 43140, description: 'ALARM when no token with at least this validity left ...' },
  { key: 'freshnessWindowHours', cfn: 'FreshnessWindowHours', env: null, default: 11, shape: true, type: 'Number', min: 1, max: 11, description: '... was reported in this many hours' },
  { key: 'alertEmail', cfn: 'AlertEmail', env: null, default: '', shape: true, pattern: optional('[^@\\s,]+@[^@\\s,]+'), description: 'Optional e-mail subscription to the alert topic' },
  { key: 'vpcSubnetIds', cfn: 'VpcSubnetIds', env: null, default: '', shape: true, pattern: listOf('subnet-[0-9a-f]{8,17}'), description: 'Subnets (with VpcSecurityGroupIds) to attach the function to a VPC' },
  { key: 'vpcSecurityGroupIds', cfn: 'VpcSecurityGroupIds', env: null, default: '', shape: true, pattern: listOf('sg-[0-9a-f]{8,17}'), description: 'Security groups of the VPC attachment' },
];

/** Environment variables the function gets that are no setting. */
const FIXED_ENVIRONMENT = { POWERTOOLS_METRICS_NAMESPACE: 'EcrTokenRotator' };

const byKey = new Map(SETTINGS.map((s) => [s.key, s]));

module.exports = { SETTINGS, FIXED_ENVIRONMENT, byKey, patterns: { REGION, REGISTRY, CLUSTER_REF, CLUSTER_NAME, KMS_KEY_ARN }, listOf };
