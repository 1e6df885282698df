'use strict';
/**
 * The standalone CloudFormation template (dist/template.{json,yaml}, `npm run package`): the same
 * resource model as the osls stack (infra/serverless/stack.cjs + resources.cjs), rendered for one
 * configuration, deployable with plain `aws cloudformation deploy` — no osls, no clone.
 *
 * Per-cluster and per-registry resources (pull-failure alarms and their permissions, EKS access
 * entries, exact secret and repository ARNs, the VPC) are rendered from the values given to
 * `npm run package -- --param key=value`, like `osls package` does; the settings they come from
 * are parameters pinned to the rendered value (AllowedValues), every other setting is a free
 * parameter with the osls default and the function's validation as AllowedPattern /
 * AllowedValues / MinValue / MaxValue. Plus: the code location (CodeBucket, CodeKey), RoleName
 * and PermissionsBoundary. Tags: `aws cloudformation deploy --tags` (stack tags reach every
 * resource, as osls' stackTags do).
 */

const stack = require('../serverless/stack.cjs');
const { SETTINGS } = require('../serverless/parameters.cjs');
const { functionResources } = require('../serverless/resources.cjs');

/** The stage parameter defaults (serverless.yml `params.default`), as strings. */
function defaults() {
  return Object.fromEntries(SETTINGS.map((s) => [s.key, String(s.default)]));
}

function parameterFor(setting, value) {
  const parameter = { Type: setting.type === 'Number' ? 'Number' : 'String', Default: value, Description: setting.description };
  if (setting.shape) {
    // Rendered into the resources: a different value needs a re-rendered template. The pattern
    // stays as the statement of the rule (CloudFormation checks both).
    if (setting.pattern) parameter.AllowedPattern = setting.pattern;
    parameter.AllowedValues = [value];
    parameter.ConstraintDescription = `this template was rendered for ${setting.key}=${JSON.stringify(value)}; render another with npm run package -- --param ${setting.key}=...`;
    parameter.Description = `${setting.description} (rendered: npm run package -- --param ${setting.key}=...)`;
    return parameter;
  }
  if (setting.pattern) parameter.AllowedPattern = setting.pattern;
  if (setting.values) parameter.AllowedValues = setting.values;
  if (setting.min !== undefined) parameter.MinValue = setting.min;
  if (setting.max !== undefined) parameter.MaxValue = setting.max;
  if (setting.pattern || setting.values || setting.min !== undefined) {
    parameter.ConstraintDescription = `${setting.env ?? setting.key}: ${setting.description} — refused as the function would refuse it`;
  }
  return parameter;
}

/**
 * Renders the template. `params`: stage parameters (defaults applied), `region`: the stack's
 * region if known (clusters named with a region need it), `version` and `codeKey`: the package.
 */
async function renderTemplate({ params = {}, region = '', version, codeKey, sha256 }) {
  const values = { ...defaults(), ...params };
  for (const key of Object.keys(params)) {
    if (!SETTINGS.some((s) => s.key === key)) throw new stack.StackConfigError(`unknown parameter ${key} (see infra/serverless/parameters.cjs)`);
  }
  const resolve = async (name) => {
    if (name === 'self:service') return 'ecr-token-rotator';
    if (name === 'sls:stage') return '';
    if (name === 'self:provider.region') return region;
    if (name.startsWith('param:')) return values[name.slice(6)];
    return undefined;
  };
  const settings = await stack.readSettings(resolve, { template: true });
  const model = stack.resourcesFor(settings);
  const resources = {
    ...functionResources({
      p: settings.p,
      name: settings.name,
      statements: stack.iamStatementsFor(settings),
      environment: stack.environmentFor(settings),
      vpc: stack.vpcFor(settings),
    }),
    ...model.Resources,
  };

  const Parameters = {
    CodeBucket: {
      Type: 'String',
      AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
      Description: `S3 bucket (in the stack's region) holding ${codeKey}`,
    },
    CodeKey: { Type: 'String', Default: codeKey, MinLength: 1, Description: `S3 key of the function zip (SHA-256 ${sha256})` },
    RoleName: {
      Type: 'String',
      Default: '',
      AllowedPattern: '^[\\w+=,.@-]{0,64}$',
      Description: "The function role's name; empty = generated (moving from osls: its <service>-<stage>-<region>-lambdaRole)",
    },
    PermissionsBoundary: {
      Type: 'String',
      Default: '',
      AllowedPattern: '^(?:arn:aws[a-z-]*:iam::(?:[0-9]{12}|aws):policy/[\\x21-\\x7e]{1,512})?$',
      Description: "A managed policy ARN to set as the function role's permissions boundary; empty = none",
    },
  };
  // A rendered setting that no resource refers to (IAM-only, per-cluster resources) is no
  // parameter: its value is in Metadata and in the resources themselves.
  const referenced = new Set(JSON.stringify(resources).match(/"Ref":"[A-Za-z0-9]+"/g)?.map((m) => m.slice(7, -1)) ?? []);
  for (const setting of SETTINGS) {
    if (setting.shape && !referenced.has(setting.cfn)) continue;
    Parameters[setting.cfn] = parameterFor(setting, settings.raw[setting.key]);
  }

  const rendered = SETTINGS.filter((s) => s.shape && settings.raw[s.key] !== String(s.default)).map((s) => `${s.key}=${settings.raw[s.key]}`);
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      `ecr-token-rotator ${version}: fresh ECR pull tokens into Secrets Manager and Kubernetes; heals image-pull alarms. ` +
      (rendered.length > 0 ? `Rendered for ${region ? `${region}, ` : ''}${rendered.join(' ')}.` : `Rendered with the defaults${region ? ` for ${region}` : ''}.`),
    Metadata: {
      'ecr-token-rotator': { version, codeSha256: sha256, region: region || 'any', rendered: Object.fromEntries(SETTINGS.filter((s) => s.shape).map((s) => [s.key, settings.raw[s.key]])) },
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [
          { Label: { default: 'Code' }, Parameters: ['CodeBucket', 'CodeKey'] },
          { Label: { default: 'Role' }, Parameters: ['RoleName', 'PermissionsBoundary'] },
          { Label: { default: 'Settings' }, Parameters: SETTINGS.filter((s) => !s.shape).map((s) => s.cfn) },
          { Label: { default: 'Rendered into the resources (npm run package -- --param …)' }, Parameters: SETTINGS.filter((s) => s.shape && referenced.has(s.cfn)).map((s) => s.cfn) },
        ],
      },
    },
    Parameters,
    Conditions: {
      HasRoleName: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'RoleName' }, ''] }] },
      HasPermissionsBoundary: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'PermissionsBoundary' }, ''] }] },
    },
    ...(region ? { Rules: regionRule(region) } : {}),
    Resources: resources,
    Outputs: model.Outputs,
  };
  return { template, settings };
}

/** A template rendered for one region refuses to be deployed in another. */
function regionRule(region) {
  return {
    RenderedRegion: {
      Assertions: [
        {
          Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, region] },
          AssertDescription: `this template was rendered for ${region} (npm run package -- --region ${region}); render one for this region`,
        },
      ],
    },
  };
}

/** The environment the deployed function gets from the rendered values (for the function's own validator). */
function functionEnvironment(settings) {
  const env = {};
  for (const setting of SETTINGS) if (setting.env) env[setting.env] = settings.raw[setting.key];
  return env;
}

module.exports = { renderTemplate, functionEnvironment, defaults };
