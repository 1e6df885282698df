'use strict';
/**
 * The member-account template (dist/member-account.{json,yaml}): what a fleet needs in each
 * account whose clusters the central function serves (docs/fleet.md) —
 *   - the role the central function assumes: trusted by the central function's role ARN only,
 *     and only with the agreed sts:ExternalId; allowed eks:DescribeCluster on the named clusters
 *     of this account and region, nothing else (its Kubernetes rights come from RBAC);
 *   - an EKS access entry per named cluster mapping that role to the Kubernetes group bound by
 *     infra/k8s/components/fallback/rbac.yaml (no access policy: the ClusterRole there is all it may do).
 * Clusters are parameter slots (Cluster1 … Cluster<N>, empty = unused), so one template serves a
 * service-managed StackSet with per-account overrides of the cluster names.
 *
 * The central side's EKS_CLUSTERS names each such cluster with this role's ARN (output RoleArn)
 * and the ExternalId.
 */

const CLUSTER_SLOTS = 5;
const ROLE_ARN_PATTERN = '^arn:aws[a-z-]*:iam::[0-9]{12}:role/(?:[\\x21-\\x7e]+/)?[\\w+=,.@-]{1,64}$';
const CLUSTER_NAME_PATTERN = '^(?:[0-9A-Za-z][A-Za-z0-9_-]{0,99})?$';
const RBAC_GROUP = 'ecr-token-rotator';

function renderMemberTemplate({ version = '0.0.0', slots = CLUSTER_SLOTS } = {}) {
  const slotIds = Array.from({ length: slots }, (_, i) => i + 1);
  const Parameters = {
    CentralRoleArn: {
      Type: 'String',
      AllowedPattern: ROLE_ARN_PATTERN,
      Description: "The central function's role ARN (output RotateFunctionRoleArn of the central stack)",
    },
    ExternalId: {
      Type: 'String',
      NoEcho: true,
      AllowedPattern: '^[\\w+=,.@:/-]{2,1224}$',
      Description: 'The sts:ExternalId the central function sends (externalId of its EKS_CLUSTERS entries)',
    },
    RoleName: { Type: 'String', Default: 'ecr-token-rotator-member', AllowedPattern: '^[\\w+=,.@-]{1,64}$', Description: 'Name of the role the central function assumes' },
    PermissionsBoundary: {
      Type: 'String',
      Default: '',
      AllowedPattern: '^(?:arn:aws[a-z-]*:iam::(?:[0-9]{12}|aws):policy/[\\x21-\\x7e]{1,512})?$',
      Description: "A managed policy ARN to set as the role's permissions boundary; empty = none",
    },
    KubernetesGroup: {
      Type: 'String',
      Default: RBAC_GROUP,
      AllowedPattern: '^[a-z0-9:._-]{1,63}$',
      Description: 'Kubernetes group of the access entries (the group infra/k8s/components/fallback/rbac.yaml binds)',
    },
  };
  const Conditions = { HasPermissionsBoundary: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'PermissionsBoundary' }, ''] }] } };
  const Resources = {};
  for (const i of slotIds) {
    Parameters[`Cluster${i}`] = {
      Type: 'String',
      Default: '',
      AllowedPattern: CLUSTER_NAME_PATTERN,
      Description: `EKS cluster ${i} of this account and region served by the central function; empty = unused`,
    };
    Conditions[`HasCluster${i}`] = { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: `Cluster${i}` }, ''] }] };
  }
  Conditions.HasAnyCluster = { 'Fn::Or': slotIds.map((i) => ({ Condition: `HasCluster${i}` })) };

  Resources.CentralAccessRole = {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: { Ref: 'RoleName' },
      Description: 'Assumed by the central ecr-token-rotator function (ExternalId required) to reach the EKS clusters of this account',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'CentralFunction',
            Effect: 'Allow',
            Principal: { AWS: { Ref: 'CentralRoleArn' } },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
          },
        ],
      },
      MaxSessionDuration: 3600,
      PermissionsBoundary: { 'Fn::If': ['HasPermissionsBoundary', { Ref: 'PermissionsBoundary' }, { Ref: 'AWS::NoValue' }] },
    },
  };
  Resources.CentralAccessPolicy = {
    Type: 'AWS::IAM::Policy',
    Condition: 'HasAnyCluster',
    Properties: {
      PolicyName: 'describe-served-clusters',
      Roles: [{ Ref: 'CentralAccessRole' }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            // Endpoint + CA of the served clusters; Kubernetes rights come from RBAC, not IAM.
            Sid: 'DescribeServedClusters',
            Effect: 'Allow',
            Action: 'eks:DescribeCluster',
            Resource: slotIds.map((i) => ({
              'Fn::If': [`HasCluster${i}`, { 'Fn::Sub': `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/\${Cluster${i}}` }, { Ref: 'AWS::NoValue' }],
            })),
          },
        ],
      },
    },
  };
  for (const i of slotIds) {
    Resources[`AccessEntry${i}`] = {
      Type: 'AWS::EKS::AccessEntry',
      Condition: `HasCluster${i}`,
      Properties: {
        ClusterName: { Ref: `Cluster${i}` },
        PrincipalArn: { 'Fn::GetAtt': ['CentralAccessRole', 'Arn'] },
        Type: 'STANDARD',
        KubernetesGroups: [{ Ref: 'KubernetesGroup' }],
      },
    };
  }
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `ecr-token-rotator ${version}: member account of a fleet — the role the central function assumes (ExternalId) and its EKS access entries`,
    Parameters,
    Conditions,
    Resources,
    Outputs: {
      RoleArn: { Description: 'roleArn for the EKS_CLUSTERS entries of the clusters of this account', Value: { 'Fn::GetAtt': ['CentralAccessRole', 'Arn'] } },
    },
  };
}

module.exports = { renderMemberTemplate, CLUSTER_SLOTS, RBAC_GROUP };
