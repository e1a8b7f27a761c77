/**
 * The set-up calls of the CloudWatch Logs sink, in order (group, retention,
 * stream), each with the IAM action it needs and the words of the WARN line
 * logged when that action is denied. Kept apart from the sink so the list
 * of permissions is in one place, next to what is said about each.
 */
import {
  type CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutRetentionPolicyCommand,
} from "@aws-sdk/client-cloudwatch-logs";

/** One set-up call. */
export interface SetupStep {
  /** The IAM action the call needs, e.g. `logs:CreateLogGroup`. */
  permission: string;
  /** Sends the call. */
  send(client: CloudWatchLogsClient, abortSignal: AbortSignal): Promise<unknown>;
  /** What could not be done: `Cannot create log group "/org/bridge"`. */
  failure: string;
  /** What the sink does instead, and what the operator can do. */
  goingOn: string;
}

/** Where the sink writes. */
export interface SetupTarget {
  logGroup: string;
  logStream: string;
  retentionDays: number;
}

/** The set-up calls for `target`, in the order they must run. */
export function setupSteps({ logGroup, logStream, retentionDays }: SetupTarget): SetupStep[] {
  const group = `log group "${logGroup}"`;
  return [
    {
      permission: "logs:CreateLogGroup",
      send: (client, abortSignal) =>
        client.send(new CreateLogGroupCommand({ logGroupName: logGroup }), { abortSignal }),
      failure: `Cannot create ${group}`,
      goingOn: "sending log lines to it anyway (fine when it was created beforehand)",
    },
    {
      permission: "logs:PutRetentionPolicy",
      send: (client, abortSignal) =>
        client.send(
          new PutRetentionPolicyCommand({ logGroupName: logGroup, retentionInDays: retentionDays }),
          { abortSignal },
        ),
      failure: `Cannot set the retention of ${group} to ${retentionDays} days`,
      goingOn: "keeping the group's own retention (set it beforehand)",
    },
    {
      permission: "logs:CreateLogStream",
      send: (client, abortSignal) =>
        client.send(new CreateLogStreamCommand({ logGroupName: logGroup, logStreamName: logStream }), {
          abortSignal,
        }),
      failure: `Cannot create log stream "${logStream}" in ${group}`,
      goingOn: "sending log lines to it anyway (fine when it was created beforehand)",
    },
  ];
}
