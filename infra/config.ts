import type { Pop3PollerProps } from './props';

/**
 * Your deployment: edit this file, then `npx cdk deploy`. Every setting is documented (with its
 * default) in infra/props.ts and in docs/deploy.md; `npx cdk synth` checks them all and lists
 * every problem before anything is deployed.
 *
 * Mailboxes: the first way to add them is the registry table the stack creates, with the CLI —
 * `pop3-poller mailboxes add` — no redeploy needed, and `accounts` may then stay empty. The
 * accounts below are the other way: mailboxes fixed in the stack itself, each polled from its
 * schedule's input.
 */

/** The CloudFormation stack. Region and account come from your AWS profile unless set here. */
export const deployment: { readonly stackName: string; readonly region?: string; readonly account?: string } =
  {
    stackName: 'Pop3Poller',
  };

export const config: Pop3PollerProps = {
  accounts: [
    {
      // Polled every 5 minutes (the "every-5-minutes" group); messages are deleted from the server
      // once archived. The stack creates an empty secret `pop3-poller/Pop3Poller/support`: fill it
      // in with {"host", "port", "tls", "username", "password"} after the first deployment.
      id: 'support',
      secret: 'create',
      schedule: 'every-5-minutes',
    },
    {
      // Office hours only, Paris time; messages stay on the server (keep mode) and are deleted
      // there 30 days after they were archived.
      id: 'invoices',
      secret: 'create',
      schedule: { expression: 'cron(0/15 7-19 ? * MON-FRI *)', timeZone: 'Europe/Paris' },
      mode: 'keep',
      deleteAfterDays: 30,
      maxMessages: 500,
    },
  ],
  scheduleGroups: {
    'every-5-minutes': { expression: 'rate(5 minutes)' },
  },
  defaultScheduleGroup: 'every-5-minutes',
  archive: {
    prefix: 'mail/',
    encryption: 'aws-managed',
    // For compliance archiving (WORM), chosen when the bucket is created:
    // objectLock: { mode: 'governance', retentionDays: 365 },
  },
  alarms: {
    // emails: ['ops@example.com'],
    noSuccessHours: 2,
  },
  // For POP3 servers that allow-list source IPs:
  // network: { vpc: 'new', staticEgressIp: true, natGateways: 1 },
  worker: { memoryMiB: 512, timeoutSeconds: 300 },
  // For a fleet (registry mailboxes): shards is fixed for the stack's life (drain the job queue
  // before changing it); batchSize mailboxes per job.
  // fleet: { shards: 32, batchSize: 50 },
};
