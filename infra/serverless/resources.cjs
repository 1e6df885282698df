'use strict';
/**
 * The fixed resources of the stack (schedule, failure queue, alert topic, the three operational
 * alarms, the outputs) and — for the standalone template only — the function, its role, log group
 * and async-invoke configuration, which osls generates itself from serverless.yml (provider /
 * functions). One definition for both deploy paths: osls reads them through
 * ${file(./infra/serverless/stack.cjs):resources}, `npm run package` renders them into
 * dist/template.{json,yaml}; test/deploy/template-parity.test.ts proves the two templates equal,
 * resource by resource, under the same logical IDs (so an osls stack can move to the template).
 *
 * `p(key)` is a setting's value: the literal stage parameter under osls, `{Ref: <Parameter>}` in
 * the standalone template; `name(suffix)` a physical name: "<service>-<stage>-suffix" under osls,
 * "${AWS::StackName}-suffix" in the template (the same names when the stack is called
 * <service>-<stage>, as osls calls it).
 */

const FUNCTION_LOGICAL_ID = 'RotateLambdaFunction';
const ROLE_LOGICAL_ID = 'IamRoleLambdaExecution';

/** The function as serverless.yml declares it (test/deploy/template-parity.test.ts keeps them equal). */
const FUNCTION = {
  handler: 'handlers/rotate.handler',
  runtime: 'nodejs22.x',
  architecture: 'arm64',
  description: 'Fresh ECR pull tokens into Secrets Manager (ESO) and Kubernetes; heals image-pull alarms',
  reservedConcurrency: 1,
  maximumRetryAttempts: 2,
};

const getAtt = (id, attribute = 'Arn') => ({ 'Fn::GetAtt': [id, attribute] });
const ref = (id) => ({ Ref: id });

function fixedResources({ p, name }) {
  const functionArn = getAtt(FUNCTION_LOGICAL_ID);
  const alertTopic = ref('AlertTopic');
  const Resources = {
    RotateSchedule: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        Name: name('rotate'),
        Description: 'Rotate ECR pull tokens (schedule input is passed to the function verbatim)',
        ScheduleExpression: p('scheduleRate'),
        State: p('scheduleEnabled'),
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: functionArn,
          RoleArn: getAtt('RotateScheduleRole'),
          Input: '{"action":"rotate","source":"schedule"}',
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: getAtt('RotateFailureQueue') },
        },
      },
    },
    // The schedule invokes through a role of its own: the function's role is neither assumable by
    // scheduler.amazonaws.com nor allowed to invoke itself.
    RotateScheduleRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'scheduler.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'invoke-rotate',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [functionArn, { 'Fn::Sub': `\${${FUNCTION_LOGICAL_ID}.Arn}:*` }] }],
            },
          },
        ],
      },
    },
    RotateFailureQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: name('failures'), MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    },
    RotateFailureQueuePolicy: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [ref('RotateFailureQueue')],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              // EventBridge Scheduler puts undeliverable schedule invocations here.
              Sid: 'SchedulerDeadLetters',
              Effect: 'Allow',
              Principal: { Service: 'scheduler.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: getAtt('RotateFailureQueue'),
              Condition: { ArnEquals: { 'aws:SourceArn': getAtt('RotateSchedule') } },
            },
          ],
        },
      },
    },
    // Not encrypted with the AWS-managed aws/sns key: CloudWatch alarms cannot publish to a topic
    // under that key (its key policy cannot grant cloudwatch.amazonaws.com).
    AlertTopic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: name('alerts') } },
    AlertTopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [alertTopic],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'CloudWatchAlarms',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: alertTopic,
              Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
            },
          ],
        },
      },
    },
    FailureQueueDepthAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: name('failed-invocations'),
        AlarmDescription:
          'Invocations that failed after all retries (or schedules that could not be delivered) are waiting in the failure queue. ' +
          'Inspect them, fix the cause, then purge. Runbook: README, Deploy > Runbook.',
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: getAtt('RotateFailureQueue', 'QueueName') }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [alertTopic],
        OKActions: [alertTopic],
      },
    },
    FunctionErrorsAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: name('errors'),
        AlarmDescription:
          'The rotator failed (rotation refused or failed, a heal that did not complete, bad configuration). ' +
          'Its summary log line says why. Runbook: README, Deploy > Runbook.',
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: ref(FUNCTION_LOGICAL_ID) }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [alertTopic],
        OKActions: [alertTopic],
      },
    },
    // Freshness, in hourly periods: an hour is "good" when a rotation reported a token with at least
    // the threshold of validity left (TokenSecondsRemaining, Maximum of the hour), "bad" otherwise —
    // FILL turns an hour without any report into 0. The alarm fires when ALL of the last
    // freshnessWindowHours hours are bad: no rotation succeeded in that window (default 11 h = the
    // 10 h schedule + 1 h slack; tokens live 12 h), or every token written had less than the
    // threshold left. Right after the first deployment there is no data: the alarm fires once,
    // which invokes the function — that heal is the first rotation — and clears. It also repairs a
    // disabled or broken schedule.
    TokenFreshnessAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: name('token-freshness'),
        AlarmDescription:
          'No fresh ECR token was written recently: pull secrets will expire. The function was invoked to heal; ' +
          'check its logs and the Errors alarm. Runbook: README, Deploy > Runbook.',
        Metrics: [
          {
            Id: 'remaining',
            ReturnData: false,
            MetricStat: {
              Metric: { Namespace: 'EcrTokenRotator', MetricName: 'TokenSecondsRemaining', Dimensions: [{ Name: 'service', Value: p('serviceName') }] },
              Period: 3600,
              Stat: 'Maximum',
            },
          },
          { Id: 'freshness', Label: 'Best token validity left reported in the hour (0 = none reported)', Expression: 'FILL(remaining, 0)', ReturnData: true },
        ],
        EvaluationPeriods: p('freshnessWindowHours'),
        DatapointsToAlarm: p('freshnessWindowHours'),
        Threshold: p('freshnessThresholdSeconds'),
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        AlarmActions: [functionArn, alertTopic],
        OKActions: [alertTopic],
      },
    },
    TokenFreshnessAlarmInvokePermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: functionArn,
        Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
        SourceAccount: ref('AWS::AccountId'),
        SourceArn: getAtt('TokenFreshnessAlarm'),
      },
    },
  };
  const Outputs = {
    RotateFunctionName: { Value: ref(FUNCTION_LOGICAL_ID) },
    RotateFunctionRoleArn: { Description: 'Map this role to the Kubernetes group "ecr-token-rotator" (EKS access entry)', Value: getAtt(ROLE_LOGICAL_ID) },
    AlertTopicArn: { Description: 'Subscribe your pager to this topic', Value: alertTopic },
    FailureQueueUrl: { Value: ref('RotateFailureQueue') },
  };
  return { Resources, Outputs };
}

/**
 * What osls generates from serverless.yml's provider and functions sections, written out for the
 * standalone template: the log group, the role (osls' log statements + the model's statements +
 * the failure queue), the function (code from CodeBucket/CodeKey), its async-invoke configuration.
 */
function functionResources({ p, name, statements, environment, vpc }) {
  const logArn = (suffix) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/\${AWS::StackName}*${suffix}` });
  return {
    RotateLogGroup: {
      Type: 'AWS::Logs::LogGroup',
      Properties: { LogGroupName: name('rotate', '/aws/lambda/'), RetentionInDays: p('logRetentionDays') },
    },
    [ROLE_LOGICAL_ID]: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
        },
        Policies: [
          {
            PolicyName: name('lambda'),
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:CreateLogGroup', 'logs:TagResource'], Resource: [logArn(':*')] },
                { Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: [logArn(':*:*')] },
                ...statements,
                { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt('RotateFailureQueue') },
              ],
            },
          },
        ],
        // osls adds the managed VPC policy (ENI management) when the function joins a VPC.
        ...(vpc ? { ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', ref('AWS::Partition'), ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole']] }] } : {}),
        Path: '/',
        RoleName: { 'Fn::If': ['HasRoleName', ref('RoleName'), ref('AWS::NoValue')] },
        PermissionsBoundary: { 'Fn::If': ['HasPermissionsBoundary', ref('PermissionsBoundary'), ref('AWS::NoValue')] },
      },
    },
    [FUNCTION_LOGICAL_ID]: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        Code: { S3Bucket: ref('CodeBucket'), S3Key: ref('CodeKey') },
        Handler: FUNCTION.handler,
        Runtime: FUNCTION.runtime,
        FunctionName: name('rotate'),
        MemorySize: p('memorySize'),
        Timeout: p('timeoutSeconds'),
        Architectures: [FUNCTION.architecture],
        Description: FUNCTION.description,
        Environment: { Variables: environment },
        Role: getAtt(ROLE_LOGICAL_ID),
        ReservedConcurrentExecutions: FUNCTION.reservedConcurrency,
        ...(vpc ? { VpcConfig: { SubnetIds: vpc.subnetIds, SecurityGroupIds: vpc.securityGroupIds } } : {}),
      },
      DependsOn: ['RotateLogGroup'],
    },
    RotateLambdaEvConf: {
      Type: 'AWS::Lambda::EventInvokeConfig',
      Properties: {
        FunctionName: ref(FUNCTION_LOGICAL_ID),
        DestinationConfig: { OnFailure: { Destination: getAtt('RotateFailureQueue') } },
        Qualifier: '$LATEST',
        MaximumEventAgeInSeconds: p('maximumEventAgeSeconds'),
        MaximumRetryAttempts: FUNCTION.maximumRetryAttempts,
      },
    },
  };
}

module.exports = { FUNCTION, FUNCTION_LOGICAL_ID, ROLE_LOGICAL_ID, fixedResources, functionResources };
