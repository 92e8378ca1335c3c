import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Pop3Poller } from './pop3-poller';
import type { Pop3PollerProps } from './props';

export interface Pop3PollerStackProps extends StackProps {
  readonly poller: Pop3PollerProps;
}

/** The deployable unit: one stack holding one `Pop3Poller`. */
export class Pop3PollerStack extends Stack {
  readonly poller: Pop3Poller;

  constructor(scope: Construct, id: string, props: Pop3PollerStackProps) {
    super(scope, id, {
      description: 'Serverless POP3 mailbox poller: archives mail to S3 and emits EventBridge events',
      ...props,
    });
    this.poller = new Pop3Poller(this, 'Poller', props.poller);
  }
}
