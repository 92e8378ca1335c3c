/**
 * The jobs that flow Scheduler → dispatcher → SQS FIFO → worker, as JSON in the queue's messages.
 * The handlers build and parse them (functions/handlers/jobs.ts), the job-queue adapter carries
 * them (ports.ts), and the CDK construct names them through functions/handlers/contract.ts.
 */

/** One account to poll: what the dispatcher enqueues and the worker consumes (JSON in the SQS body). */
export interface PollJob {
  readonly accountId: string;
  /** Secrets Manager secret name or ARN holding the account's JSON secret. */
  readonly secretId: string;
  /**
   * A mail provider preset (`gmail`, `outlook`): host, port 995 and implicit TLS unless the secret
   * says otherwise, and the provider's known behaviours (functions/poller/providers.ts). The
   * secret's own `provider` takes precedence.
   */
  readonly provider?: 'gmail' | 'outlook';
  readonly mode?: 'delete' | 'keep';
  readonly deleteAfterDays?: number;
  /** Per-invocation bounds. */
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  /** How many follow-ups preceded this job (0 for a scheduled one). */
  readonly followUp?: number;
  /** Connection settings from the registry (a secret's own settings still take precedence). */
  readonly host?: string;
  readonly port?: number;
  readonly tls?: 'implicit' | 'starttls' | 'none';
  readonly username?: string;
  /** The entry of a shared secret's `mailboxes` map. @default the account id */
  readonly secretKey?: string;
  readonly authMethod?: 'auto' | 'USER' | 'APOP' | 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2' | 'OAUTHBEARER';
  readonly certificateSha256?: string;
  /** The mailbox's last poll as the registry held it at dispatch (status and code), to detect changes. */
  readonly last?: {
    readonly status: string;
    readonly code?: string;
    readonly at: string;
    /** When mail was last archived, carried into the next record. */
    readonly lastArchivedAt?: string;
  };
}

/**
 * What one SQS message of the job queue carries: up to BATCH_SIZE mailboxes of one shard, polled
 * by one worker invocation. The message group is `shard-<shard>`, so jobs of one shard — and so
 * every job of a mailbox — run one after another, never beside each other.
 */
export interface BatchJob {
  readonly v: 2;
  readonly shard: number;
  readonly mailboxes: readonly PollJob[];
}
