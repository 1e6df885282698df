'use strict';
/**
 * The list-shaped parts of serverless.yml, computed from the stage parameters at package time.
 *
 * serverless.yml reads them through osls' JS file variable source, e.g.
 *   ${file(./infra/serverless/stack.cjs):iamStatements}
 * Each export named there is called by osls with { resolveVariable } and returns plain
 * CloudFormation. YAML alone cannot turn "one comma-separated parameter" into "one alarm, one
 * permission and one IAM resource per cluster", and cannot drop a statement when its parameter
 * is empty — both are needed for least privilege without placeholder ARNs.
 *
 * The pure helpers (parseClusters, secretArns, …) are exported too, for the tests and for the
 * standalone template (infra/cloudformation/template.cjs, `npm run package`).
 * CommonJS on purpose: osls loads .js/.cjs variable files with require().
 */

const { SETTINGS, FIXED_ENVIRONMENT, byKey } = require('./parameters.cjs');
const { FUNCTION_LOGICAL_ID, ROLE_LOGICAL_ID, fixedResources } = require('./resources.cjs');

const RBAC_GROUP = 'ecr-token-rotator';
/** The tag the function puts on every secret it creates or adopts (src/config: OWNERSHIP_TAG_KEY). */
const OWNERSHIP_TAG = { key: 'ecr-token-rotator:managed', value: 'true' };
/** Secrets Manager appends "-" and six random characters to every secret's name in its ARN. */
const SECRET_ARN_SUFFIX = '-??????';
/** What {account} renders as for ECR Public, and the region of its token (src/formats/registry-host.ts). */
const ECR_PUBLIC = { accountId: 'public', region: 'us-east-1' };
const ALERT_TOPIC_LOGICAL_ID = 'AlertTopic';
const FAILURE_QUEUE_LOGICAL_ID = 'RotateFailureQueue';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@{}-]+$/;
// The private ECR registry hosts the function accepts (src/registry-host.ts; a test checks the two
// agree): <account>.dkr.ecr[-fips].<region>.<domain> or <account>.dkr-ecr[-fips].<region>.on.aws …
const ECR_PRIVATE_HOST =
  /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;
// A repository name prefix: the start of an ECR repository name (lowercase letters, digits,
// . _ - and / separators), e.g. "team-a/" or "base".
const REPOSITORY_PREFIX = /^[a-z0-9][a-z0-9._\/-]{0,255}$/;
// Repository name prefix of a pull-through cache rule (ECR: 2-30 characters).
const CACHE_PREFIX = /^[a-z0-9](?:[a-z0-9._-]|\/(?!\/)){1,29}$/;
/** The actions a pull with the produced token needs on each repository (docker/containerd/kubelet). */
const PULL_ACTIONS = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
/** The first pull through a pull-through cache rule creates the repository and imports the image. */
const PULL_THROUGH_CACHE_ACTIONS = ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];

class StackConfigError extends Error {}

/** The stack's region in a template rendered without --region (resolved at deploy time). */
const ANY_REGION = '${AWS::Region}';

/** A CloudFormation string: a literal, or Fn::Sub when it refers to ${AWS::…} pseudo parameters. */
const sub = (text) => (text.includes('${') ? { 'Fn::Sub': text } : text);

function list(value) {
  if (value === undefined || value === null) return [];
  return String(value)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function bool(value, name) {
  const text = String(value ?? '').trim();
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no|)$/i.test(text)) return false;
  throw new StackConfigError(`param ${name}=${JSON.stringify(text)}: expected true or false`);
}

function int(value, name, min, max) {
  const text = String(value ?? '').trim();
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new StackConfigError(`param ${name}=${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/**
 * EKS_CLUSTERS as the function reads it: "name", "region:name" or a cluster ARN
 * (arn:aws:eks:<region>:<account>:cluster/<name>), comma-separated, or a JSON array of
 * {name, region?, endpoint?, caData?}. Returns [{name, region, override}].
 */
function parseClusters(raw, defaultRegion) {
  const text = String(raw ?? '').trim();
  if (text === '') return [];
  let items;
  if (text.startsWith('[')) {
    try {
      items = JSON.parse(text);
    } catch {
      throw new StackConfigError('param eksClusters starts with "[" but is not a JSON array');
    }
    if (!Array.isArray(items)) throw new StackConfigError('param eksClusters: expected a JSON array');
  } else {
    items = list(text);
  }
  const clusters = [];
  const seen = new Set();
  for (const item of items) {
    let name;
    let region;
    let override = false;
    let roleArn;
    const arn = typeof item === 'string' ? /^arn:aws[a-z-]*:eks:([^:]+):\d{12}:cluster\/(.+)$/.exec(item) : null;
    if (arn) {
      [, region, name] = arn;
    } else if (typeof item === 'string') {
      const colon = item.indexOf(':');
      region = colon < 0 ? defaultRegion : item.slice(0, colon);
      name = colon < 0 ? item : item.slice(colon + 1);
    } else if (item && typeof item === 'object' && typeof item.name === 'string') {
      name = item.name;
      region = typeof item.region === 'string' ? item.region : defaultRegion;
      override = typeof item.endpoint === 'string' && typeof item.caData === 'string';
      roleArn = fleetRoleArn(item.roleArn, name);
    } else {
      throw new StackConfigError('param eksClusters: every entry needs a name');
    }
    if (!CLUSTER_NAME.test(name)) throw new StackConfigError(`param eksClusters: ${JSON.stringify(name)} is not a valid EKS cluster name`);
    if (!REGION.test(String(region)) && region !== ANY_REGION) throw new StackConfigError(`param eksClusters: ${JSON.stringify(region)} is not an AWS region`);
    const key = `${region}:${name}`;
    if (seen.has(key)) throw new StackConfigError(`param eksClusters: ${key} is listed twice`);
    seen.add(key);
    clusters.push(roleArn === undefined ? { name, region, override } : { name, region, override, roleArn });
  }
  return clusters;
}

/**
 * The IAM resource pattern for a secret name template: each {account}/{region} placeholder
 * becomes "*", and a trailing "*" covers the 6-character suffix Secrets Manager appends to
 * every secret ARN ("-AbCdEf"). E.g. ecr/{account}/{region}/credentials becomes
 *   ecr/<*>/<*>/credentials<*>   (each <*> standing for "*").
 */
function secretNamePattern(template) {
  const name = String(template).trim();
  if (name === '' || name.length > 512 || !SECRET_NAME_CHARS.test(name)) {
    throw new StackConfigError(`secret name ${JSON.stringify(name)}: expected 1-512 of A-Z a-z 0-9 / _ + = . @ - (and {account}/{region})`);
  }
  if (/^[{*]/.test(name)) {
    throw new StackConfigError(`secret name ${JSON.stringify(name)} must start with a fixed prefix (e.g. ecr/), so the IAM policy can be scoped to it`);
  }
  return `${name.replace(/\{(account|region)\}/g, '*')}*`.replace(/\*+/g, '*');
}

/**
 * The names of the secrets the function writes, exactly as it renders them (src/config
 * renderSecretName): SECRET_NAME once per configured registry ({account}/{region} of that
 * registry; ECR Public renders as public/us-east-1), or — with ECR_REGISTRIES empty — for the
 * function's own registry (${AWS::AccountId}/${AWS::Region}, resolved by CloudFormation); and
 * COMBINED_SECRET_NAME.
 */
function secretNames(settings) {
  const template = String(settings.secretName).trim();
  const render = (account, region) => template.replaceAll('{account}', account).replaceAll('{region}', region);
  const registries = settings.registries ?? [];
  const targets = registries.map((r) => render(r.accountId, r.region));
  if (settings.fleet?.publicRegistry) targets.push(render(ECR_PUBLIC.accountId, ECR_PUBLIC.region));
  if (registries.length === 0 && !settings.fleet?.publicRegistry) targets.push(render('${AWS::AccountId}', '${AWS::Region}'));
  if (String(settings.combinedSecretName ?? '').trim() !== '') targets.push(String(settings.combinedSecretName).trim());
  return [...new Set(targets)];
}

/**
 * The exact ARNs of those secrets in `region` (default: the stack's): the name plus the
 * "-??????" Secrets Manager appends — not "name*", which also matches "name-db" or "name/x".
 */
function secretArns(settings, region = '${AWS::Region}') {
  return secretNames(settings).map((name) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:${region}:\${AWS::AccountId}:secret:${name}${SECRET_ARN_SUFFIX}`,
  }));
}

/**
 * ECR_REGISTRIES as the function reads it (hosts, optionally with https:// and a /, /v1/, /v2/
 * path), normalised and de-duplicated: [{host, accountId, region}]. Empty → [] (the function's own
 * registry in its region).
 */
function parseRegistries(raw) {
  const registries = [];
  const seen = new Set();
  for (const item of list(raw)) {
    let rest = item.replace(/^https?:\/\//i, '');
    const slash = rest.indexOf('/');
    if (slash >= 0) {
      if (!/^\/(v[12]\/?)?$/.test(rest.slice(slash))) throw new StackConfigError(`param ecrRegistries: ${JSON.stringify(item)} has a path (a registry host has none)`);
      rest = rest.slice(0, slash);
    }
    const host = rest.toLowerCase();
    // ECR Public has no repositories of ours to pull from: its statements come from the fleet settings.
    if (host === 'public.ecr.aws') continue;
    const match = ECR_PRIVATE_HOST.exec(host);
    if (!match) throw new StackConfigError(`param ecrRegistries: ${JSON.stringify(item)} is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)`);
    if (seen.has(host)) throw new StackConfigError(`param ecrRegistries: ${host} is listed twice`);
    seen.add(host);
    registries.push({ host, accountId: match[1], region: match[3] });
  }
  return registries;
}

function prefixes(raw, name, pattern, example) {
  const items = list(raw);
  for (const item of items) {
    if (!pattern.test(item) || item.includes('*')) {
      throw new StackConfigError(`param ${name}: ${JSON.stringify(item)} is not a repository name prefix (lowercase a-z 0-9 . _ - /, e.g. ${example})`);
    }
  }
  return [...new Set(items)];
}

/**
 * Repository ARN patterns for registries × name patterns. A registry in the stack's own account and
 * region (no ECR_REGISTRIES) is written with the pseudo parameters.
 */
function repositoryArns(registries, patterns) {
  const targets = registries.length > 0 ? registries.map((r) => ({ region: r.region, account: r.accountId })) : [{ region: '${AWS::Region}', account: '${AWS::AccountId}' }];
  const arns = [];
  for (const target of targets) {
    for (const pattern of patterns) {
      arns.push({ 'Fn::Sub': `arn:\${AWS::Partition}:ecr:${target.region}:${target.account}:repository/${pattern}` });
    }
  }
  return arns;
}

function clusterArn(cluster) {
  return { 'Fn::Sub': `arn:\${AWS::Partition}:eks:${cluster.region}:\${AWS::AccountId}:cluster/${cluster.name}` };
}

function logicalSuffix(name) {
  const alnum = name.replace(/[^A-Za-z0-9]/g, '');
  return alnum.charAt(0).toUpperCase() + alnum.slice(1);
}

const TOKEN_LIFE_SECONDS = 12 * 3600;

/** Seconds between runs of a rate() expression; undefined for cron(). */
function rateSeconds(expression) {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(String(expression).trim());
  if (!match) {
    if (/^cron\(.+\)$/.test(String(expression).trim())) return undefined;
    throw new StackConfigError(`param scheduleRate=${JSON.stringify(expression)}: expected rate(N hours) or cron(...)`);
  }
  const unit = { minute: 60, hour: 3600, day: 86400 }[match[2].replace(/s$/, '')];
  return Number(match[1]) * unit;
}

/**
 * The freshness alarm's numbers, checked against the token life: the window (whole hours, the
 * alarm's hourly periods) must cover one scheduled run plus the hour it may straddle (else it
 * fires between healthy runs) and stay under the 12 h token life (else it fires only after pull
 * secrets went stale).
 */
function readNumbers(raw) {
  const windowHours = int(raw.freshnessWindowHours, 'freshnessWindowHours', 1, TOKEN_LIFE_SECONDS / 3600 - 1);
  const threshold = int(raw.freshnessThresholdSeconds, 'freshnessThresholdSeconds', 60, TOKEN_LIFE_SECONDS - 60);
  const interval = rateSeconds(raw.scheduleRate);
  if (interval !== undefined && interval >= TOKEN_LIFE_SECONDS) {
    throw new StackConfigError(`param scheduleRate=${raw.scheduleRate}: runs must come more often than the 12 h token life`);
  }
  if (interval !== undefined && windowHours * 3600 < interval + 3600) {
    throw new StackConfigError(
      `param freshnessWindowHours=${windowHours} must be at least the schedule interval (${interval / 3600} h) + 1 h, ` +
        'or the freshness alarm fires between healthy runs',
    );
  }
  return { freshnessWindowHours: windowHours, freshnessThresholdSeconds: threshold, scheduleIntervalSeconds: interval ?? null };
}

// ---- fleet (issue 12): clusters in other accounts, cross-account readers, replicas, ECR Public ----

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/([\x21-\x7e]+\/)?[\w+=,.@-]{1,64}$/;

/** The roleArn of an EKS_CLUSTERS entry (a cluster in another account), or undefined. */
function fleetRoleArn(value, cluster) {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !ROLE_ARN.test(value)) {
    throw new StackConfigError(`param eksClusters: cluster ${cluster}: roleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
  }
  return value;
}

/** The fleet parameters: ECR Public configured?, SECRET_READERS, SECRET_REPLICA_REGIONS. */
function readFleetSettings(raw) {
  const publicRegistry = list(raw.ecrRegistries).some((h) => /^(https:\/\/)?public\.ecr\.aws\/?$/i.test(h));
  const readers = list(raw.secretReaders);
  const replicas = list(raw.secretReplicaRegions).map((item) => {
    const colon = item.indexOf(':');
    const region = colon < 0 ? item : item.slice(0, colon);
    const kmsKeyArn = colon < 0 ? undefined : item.slice(colon + 1);
    if (!REGION.test(region)) throw new StackConfigError(`param secretReplicaRegions: ${JSON.stringify(item)}: expected region or region:kmsKeyArn`);
    if (kmsKeyArn !== undefined && !KMS_KEY_ARN.test(kmsKeyArn)) {
      throw new StackConfigError(`param secretReplicaRegions: ${JSON.stringify(item)}: the replica key must be a KMS key ARN`);
    }
    return kmsKeyArn === undefined ? { region } : { region, kmsKeyArn };
  });
  return { publicRegistry, readers, replicas };
}

/**
 * The fleet's statements, each present only when its feature is configured: sts:AssumeRole on
 * exactly the roles named in eksClusters; ECR Public's token (no resource-level permissions:
 * "*"); resource policies and replication of the product's own secrets (their name patterns in
 * this region and the replica regions); the replica keys.
 */
function fleetStatementsFor(settings) {
  const fleet = settings.fleet ?? { publicRegistry: false, readers: [], replicas: [] };
  const statements = [];
  const roles = [...new Set((settings.clusters ?? []).map((c) => c.roleArn).filter(Boolean))];
  if (roles.length > 0) {
    statements.push({ Sid: 'AssumeClusterRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: roles });
  }
  if (fleet.publicRegistry) {
    statements.push({ Sid: 'EcrPublicToken', Effect: 'Allow', Action: ['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'], Resource: '*' });
  }
  const inRegion = (region) => secretArns(settings, region);
  if (fleet.readers.length > 0) {
    statements.push({
      Sid: 'ReadOwnSecretPolicies',
      Effect: 'Allow',
      Action: ['secretsmanager:GetResourcePolicy'],
      Resource: inRegion('${AWS::Region}'),
    });
    statements.push({
      // Only with BlockPublicPolicy (the function always sets it): no policy that makes the
      // secrets public can be written with this role.
      Sid: 'ShareOwnSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:PutResourcePolicy'],
      Resource: inRegion('${AWS::Region}'),
      Condition: { Bool: { 'secretsmanager:BlockPublicPolicy': 'true' } },
    });
  }
  if (fleet.replicas.length > 0) {
    statements.push({
      Sid: 'ReplicateOwnSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:ReplicateSecretToRegions'],
      Resource: ['${AWS::Region}', ...fleet.replicas.map((r) => r.region)].flatMap(inRegion),
    });
    const keyed = fleet.replicas.filter((r) => r.kmsKeyArn);
    if (keyed.length > 0) {
      statements.push({
        // Like the primary key: usable only through Secrets Manager in the replica's region.
        Sid: 'ReplicaKeys',
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Encrypt'],
        Resource: [...new Set(keyed.map((r) => r.kmsKeyArn))],
        Condition: {
          StringEquals: { 'kms:ViaService': [...new Set(keyed.map((r) => r.region))].map((region) => ({ 'Fn::Sub': `secretsmanager.${region}.\${AWS::URLSuffix}` })) },
        },
      });
    }
  }
  return statements;
}

/**
 * The settings, read through osls' resolveVariable (or an equal function over plain values).
 * `template: true` reads them for the standalone CloudFormation template: physical names from
 * the stack name, settings as {Ref: <Parameter>}, and — without a region — the stack's region
 * resolved at deploy time.
 */
async function readSettings(resolveVariable, { template = false } = {}) {
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}`);
    return value === null || value === undefined ? '' : String(value);
  };
  const service = String(await resolveVariable('self:service'));
  const stage = String(await resolveVariable('sls:stage'));
  const region = String((await resolveVariable('self:provider.region')) ?? '').trim() || (template ? ANY_REGION : '');
  const clusters = parseClusters(await param('eksClusters'), region);
  if (region === ANY_REGION) {
    const placed = clusters.find((c) => c.region !== ANY_REGION);
    if (placed) {
      throw new StackConfigError(`param eksClusters: ${placed.region}:${placed.name} names a region; render the template for the stack's region (npm run package -- --region <region>)`);
    }
  }
  const alarmClusterNames = list(await param('pullAlarmClusters'));
  const raw = {};
  for (const setting of SETTINGS) raw[setting.key] = await param(setting.key);
  const prefix = template ? '${AWS::StackName}' : `${service}-${stage}`;
  const settings = {
    service,
    stage,
    region,
    template,
    prefix,
    raw,
    /** A setting's value in the template: the literal (osls) or a Ref to its parameter. */
    p: (key) => {
      const setting = byKey.get(key);
      if (!setting) throw new Error(`no setting ${key}`);
      if (template) return { Ref: setting.cfn };
      return setting.type === 'Number' ? Number(raw[key]) : raw[key];
    },
    /** A physical name: <service>-<stage>-<suffix> (osls) or ${AWS::StackName}-<suffix>. */
    name: (suffix, lead = '') => sub(`${lead}${prefix}-${suffix}`),
    secretName: await param('secretName'),
    combinedSecretName: await param('combinedSecretName'),
    kmsKeyArn: (await param('kmsKeyArn')).trim(),
    registries: parseRegistries(await param('ecrRegistries')),
    pullRepositories: prefixes(await param('pullRepositories'), 'pullRepositories', REPOSITORY_PREFIX, 'team-a/'),
    pullThroughCachePrefixes: prefixes(await param('pullThroughCachePrefixes'), 'pullThroughCachePrefixes', CACHE_PREFIX, 'docker-hub'),
    fleet: readFleetSettings({
      ecrRegistries: await param('ecrRegistries'),
      secretReaders: await param('secretReaders'),
      secretReplicaRegions: await param('secretReplicaRegions'),
    }),
    clusters,
    // Container Insights metrics and the alarm actions live in the stack's region: only clusters
    // of this region can get a pull-failure alarm here (deploy the stack per region otherwise).
    alarmClusters:
      alarmClusterNames.length > 0 ? alarmClusterNames : clusters.filter((c) => c.region === region).map((c) => c.name),
    healAlarmNames: list(await param('healAlarmNames')),
    alertEmail: (await param('alertEmail')).trim(),
    createAccessEntries: bool(await param('createEksAccessEntries'), 'createEksAccessEntries'),
    subnetIds: list(await param('vpcSubnetIds')),
    securityGroupIds: list(await param('vpcSecurityGroupIds')),
    pullAlarmPeriods: int(await param('pullAlarmEvaluationMinutes'), 'pullAlarmEvaluationMinutes', 1, 60),
    pullAlarmDatapoints: int(await param('pullAlarmDatapoints'), 'pullAlarmDatapoints', 1, 60),
  };
  secretNamePattern(settings.secretName);
  if (settings.combinedSecretName.trim() !== '') secretNamePattern(settings.combinedSecretName);
  settings.numbers = readNumbers({
    scheduleRate: await param('scheduleRate'),
    freshnessWindowHours: await param('freshnessWindowHours'),
    freshnessThresholdSeconds: await param('freshnessThresholdSeconds'),
  });
  for (const name of settings.alarmClusters) {
    if (!CLUSTER_NAME.test(name)) throw new StackConfigError(`param pullAlarmClusters: ${JSON.stringify(name)} is not a valid EKS cluster name`);
  }
  if (settings.pullAlarmDatapoints > settings.pullAlarmPeriods) {
    throw new StackConfigError('param pullAlarmDatapoints must not exceed pullAlarmEvaluationMinutes');
  }
  if (settings.kmsKeyArn !== '' && !KMS_KEY_ARN.test(settings.kmsKeyArn)) {
    throw new StackConfigError(
      `param kmsKeyArn=${JSON.stringify(settings.kmsKeyArn)}: expected a key ARN (arn:aws:kms:<region>:<account>:key/<id>); ` +
        'an alias or a bare key id cannot scope the IAM policy to one key',
    );
  }
  for (const id of settings.subnetIds) {
    if (!/^subnet-[0-9a-f]{8,17}$/.test(id)) throw new StackConfigError(`param vpcSubnetIds: ${JSON.stringify(id)} is not a subnet id`);
  }
  for (const id of settings.securityGroupIds) {
    if (!/^sg-[0-9a-f]{8,17}$/.test(id)) throw new StackConfigError(`param vpcSecurityGroupIds: ${JSON.stringify(id)} is not a security group id`);
  }
  if ((settings.subnetIds.length === 0) !== (settings.securityGroupIds.length === 0)) {
    throw new StackConfigError('params vpcSubnetIds and vpcSecurityGroupIds: set both (VPC attachment) or neither');
  }
  return settings;
}

/** provider.iam.role.statements: the function's permissions, nothing else. */
function iamStatementsFor(settings) {
  const ownSecrets = secretArns(settings);
  const registries = settings.registries ?? [];
  const cachePrefixes = settings.pullThroughCachePrefixes ?? [];
  // Pull-through cache repositories are named <prefix>/<upstream repository>.
  const cachePatterns = cachePrefixes.map((prefix) => `${prefix.replace(/\/+$/, '')}/*`);
  const pullPatterns = (settings.pullRepositories ?? []).length > 0 ? [...settings.pullRepositories.map((p) => `${p}*`), ...cachePatterns] : ['*'];
  const statements = [
    {
      // The only statement on "*": GetAuthorizationToken has no resource-level permissions.
      Sid: 'EcrAuthorizationToken',
      Effect: 'Allow',
      Action: ['ecr:GetAuthorizationToken'],
      Resource: '*',
    },
    {
      // The token carries this role's ECR permissions: every pull with the produced secret is a
      // pull by this role. Pull (read) actions only, on the configured registries' repositories
      // (pullRepositories narrows them by name prefix). For a registry of another account this is
      // the identity half; that account's repository or registry policy must grant the role too.
      Sid: 'PullConfiguredRepositories',
      Effect: 'Allow',
      Action: [...PULL_ACTIONS],
      Resource: repositoryArns(registries, [...new Set(pullPatterns)]),
    },
  ];
  if (cachePatterns.length > 0) {
    statements.push({
      // The first pull of an upstream image through a pull-through cache rule creates the
      // repository <prefix>/<upstream repository> and imports the image, as the puller.
      Sid: 'PullThroughCacheFirstPull',
      Effect: 'Allow',
      Action: [...PULL_THROUGH_CACHE_ACTIONS],
      Resource: repositoryArns(registries, cachePatterns),
    });
  }
  statements.push({
    // Create-if-missing and adopt: only with the ownership tag in the request, so the role can
    // neither create an untagged secret nor tag one with anything else.
    Sid: 'CreateOwnSecrets',
    Effect: 'Allow',
    Action: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
    Resource: ownSecrets,
    Condition: { StringEquals: { [`aws:RequestTag/${OWNERSHIP_TAG.key}`]: OWNERSHIP_TAG.value } },
  });
  statements.push({
    // Read and write the configured secrets only (exact names).
    Sid: 'OwnSecrets',
    Effect: 'Allow',
    Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
    Resource: ownSecrets,
  });
  if (settings.kmsKeyArn !== '') {
    statements.push({
      // Only with a customer-managed key; the aws/secretsmanager key needs no identity policy.
      // Secrets Manager calls KMS on the function's behalf: GenerateDataKey for every new version
      // (CreateSecret, PutSecretValue), Decrypt for GetSecretValue. No kms:Encrypt (only
      // UpdateSecret's re-encryption uses it, and the function never calls UpdateSecret). Usable
      // only through Secrets Manager in this region, and only for the configured secrets.
      Sid: 'SecretKey',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: [settings.kmsKeyArn],
      Condition: {
        StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.${AWS::URLSuffix}' } },
        StringLike: { 'kms:EncryptionContext:SecretARN': ownSecrets },
      },
    });
  }
  // A cluster reached through its own account's role is described as that role.
  const described = settings.clusters.filter((c) => !c.override && !c.roleArn);
  if (described.length > 0) {
    statements.push({
      // Endpoint + CA of the fallback clusters; Kubernetes rights come from RBAC, not IAM.
      Sid: 'DescribeFallbackClusters',
      Effect: 'Allow',
      Action: ['eks:DescribeCluster'],
      Resource: described.map(clusterArn),
    });
  }
  statements.push(...fleetStatementsFor(settings));
  return statements;
}

/**
 * What a registry in ANOTHER account must grant the function's role, since its own policy is only
 * the identity half of a cross-account request (IAM evaluates both sides):
 *   repositoryPolicy  on each repository the clusters pull from (aws ecr set-repository-policy):
 *                     the three pull actions, Principal = the role, no Resource (a repository
 *                     policy applies to its repository);
 *   registryPolicy    only with pull-through cache prefixes (aws ecr put-registry-policy): the
 *                     first pull creates <prefix>/<upstream repository> and imports the image.
 */
function pullRepositoryPolicy(roleArn) {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'EcrTokenRotatorPull', Effect: 'Allow', Principal: { AWS: roleArn }, Action: [...PULL_ACTIONS] }],
  };
}

function crossAccountPolicies({ roleArn, registry, pullThroughCachePrefixes = [] }) {
  const role = /^arn:(aws[a-z-]*):iam::\d{12}:role\/[\w+=,.@\/-]+$/.exec(String(roleArn));
  if (!role) throw new StackConfigError(`${JSON.stringify(roleArn)} is not an IAM role ARN`);
  const [target] = parseRegistries(registry);
  if (!target) throw new StackConfigError('a registry host is required');
  const principal = { AWS: roleArn };
  const repositoryPolicy = pullRepositoryPolicy(roleArn);
  const prefixesList = prefixes(pullThroughCachePrefixes.join(','), 'pullThroughCachePrefixes', CACHE_PREFIX, 'docker-hub');
  if (prefixesList.length === 0) return { repositoryPolicy };
  const registryPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EcrTokenRotatorPullThroughCache',
        Effect: 'Allow',
        Principal: principal,
        Action: [...PULL_THROUGH_CACHE_ACTIONS],
        Resource: prefixesList.map((p) => `arn:${role[1]}:ecr:${target.region}:${target.accountId}:repository/${p.replace(/\/+$/, '')}/*`),
      },
    ],
  };
  return { repositoryPolicy, registryPolicy };
}

/** provider.vpc, or nothing. */
function vpcFor(settings) {
  if (settings.subnetIds.length === 0) return null;
  return { subnetIds: settings.subnetIds, securityGroupIds: settings.securityGroupIds };
}

function pullAlarmName(settings, cluster) {
  return settings.name(`image-pull-${cluster}`);
}

/** Per-cluster pull-failure alarms (invoking the function), the alarm rule, EKS access entries. */
function resourcesFor(settings) {
  const fixed = fixedResources(settings);
  const Resources = { ...fixed.Resources };
  const Outputs = { ...fixed.Outputs };
  const functionArn = { 'Fn::GetAtt': [FUNCTION_LOGICAL_ID, 'Arn'] };
  const alarmIds = new Map();

  for (const cluster of settings.alarmClusters) {
    const suffix = logicalSuffix(cluster);
    const alarmId = `ImagePullAlarm${suffix}`;
    if (alarmIds.has(alarmId)) {
      throw new StackConfigError(`clusters ${alarmIds.get(alarmId)} and ${cluster} map to the same resource name ${alarmId}`);
    }
    alarmIds.set(alarmId, cluster);
    Resources[alarmId] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: pullAlarmName(settings, cluster),
        AlarmDescription:
          `Containers in ${cluster} wait in ErrImagePull/ImagePullBackOff/InvalidImageName (Container Insights). ` +
          'Invokes the rotator (heal: fresh token, pull secrets re-applied, ESO re-sync). Runbook: README, Deploy > Runbook.',
        Namespace: 'ContainerInsights',
        MetricName: 'pod_container_status_waiting_reason_image_pull_error',
        Dimensions: [{ Name: 'ClusterName', Value: cluster }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: settings.pullAlarmPeriods,
        DatapointsToAlarm: settings.pullAlarmDatapoints,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        // No Container Insights data is not an image-pull failure.
        TreatMissingData: 'notBreaching',
        // The function directly (asynchronous invoke, payload with alarmData) and the humans.
        AlarmActions: [functionArn, { Ref: ALERT_TOPIC_LOGICAL_ID }],
        OKActions: [{ Ref: ALERT_TOPIC_LOGICAL_ID }],
      },
    };
    Resources[`ImagePullAlarmInvokePermission${suffix}`] = {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: functionArn,
        Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: { 'Fn::GetAtt': [alarmId, 'Arn'] },
      },
    };
  }

  if (settings.healAlarmNames.length > 0) {
    // Alarms defined elsewhere (another stack, the console) reach the function through
    // EventBridge; the product's own alarms above invoke it directly, so they are not listed
    // here (one state change must not heal twice).
    Resources.HealAlarmRule = {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: settings.name('heal-on-alarm'),
        Description: 'Heal when a listed image-pull alarm goes into ALARM',
        State: 'ENABLED',
        EventPattern: {
          'source': ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          'detail': {
            alarmName: settings.healAlarmNames,
            state: { value: ['ALARM'] },
          },
        },
        Targets: [
          {
            Id: 'rotate',
            Arn: functionArn,
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
          },
        ],
      },
    };
    Resources.HealAlarmRuleInvokePermission = {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: functionArn,
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['HealAlarmRule', 'Arn'] },
      },
    };
  }

  if (settings.createAccessEntries) {
    // Clusters in other accounts get their access entry there (docs/fleet.md).
    const local = settings.clusters.filter((c) => c.region === settings.region && !c.roleArn);
    if (local.length === 0) {
      throw new StackConfigError(`param createEksAccessEntries=true but eksClusters names no cluster in ${settings.region}`);
    }
    for (const cluster of local) {
      const id = `EksAccessEntry${logicalSuffix(cluster.name)}`;
      Resources[id] = {
        Type: 'AWS::EKS::AccessEntry',
        Properties: {
          ClusterName: cluster.name,
          PrincipalArn: { 'Fn::GetAtt': [ROLE_LOGICAL_ID, 'Arn'] },
          Type: 'STANDARD',
          // Maps the role to the RBAC group bound in infra/k8s/components/fallback/rbac.yaml. No access policy is
          // associated: the ClusterRole there is all the function may do in the cluster.
          KubernetesGroups: [RBAC_GROUP],
        },
      };
    }
  }

  if (settings.alertEmail !== '') {
    Resources.AlertEmailSubscription = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: ALERT_TOPIC_LOGICAL_ID }, Protocol: 'email', Endpoint: settings.alertEmail },
    };
  }

  Outputs.CrossAccountRepositoryPolicy = {
    Description: 'Repository policy for registries in other accounts (aws ecr set-repository-policy); docs/deploy.md',
    Value: { 'Fn::Sub': JSON.stringify(pullRepositoryPolicy(`\${${ROLE_LOGICAL_ID}.Arn}`)) },
  };

  Outputs.PullFailureAlarmNames = {
    Description: 'Pull-failure alarms that invoke the function directly',
    Value: settings.alarmClusters.length > 0 ? sub(settings.alarmClusters.map((c) => `${settings.prefix}-image-pull-${c}`).join(',')) : '-',
  };
  return { Resources, Outputs };
}

/** The function's environment: one variable per setting that has one, plus the fixed ones. */
function environmentFor(settings) {
  const environment = {};
  for (const setting of SETTINGS) if (setting.env) environment[setting.env] = settings.template ? settings.p(setting.key) : settings.raw[setting.key];
  return { ...environment, ...FIXED_ENVIRONMENT };
}

const withSettings = (build) => async ({ resolveVariable }) => build(await readSettings(resolveVariable));

module.exports = {
  // osls entry points
  iamStatements: withSettings(iamStatementsFor),
  vpc: withSettings(vpcFor),
  numbers: withSettings((settings) => settings.numbers),
  resources: withSettings(resourcesFor),
  environment: withSettings(environmentFor),
  // for tests
  RBAC_GROUP,
  FAILURE_QUEUE_LOGICAL_ID,
  StackConfigError,
  parseClusters,
  parseRegistries,
  crossAccountPolicies,
  PULL_ACTIONS,
  PULL_THROUGH_CACHE_ACTIONS,
  fleetStatementsFor,
  secretNamePattern,
  secretNames,
  secretArns,
  environmentFor,
  vpcFor,
  OWNERSHIP_TAG,
  ANY_REGION,
  readNumbers,
  iamStatementsFor,
  resourcesFor,
  readSettings,
};
