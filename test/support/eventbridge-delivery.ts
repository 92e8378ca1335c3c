import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';

/**
 * A PutEvents entry as EventBridge delivers it to a rule's target: the shape infra/event-schema.json
 * describes (EventBridge adds version, id, account, region; its time has whole seconds).
 */
export function delivered(entry: PutEventsRequestEntry): Record<string, unknown> {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '111122223333',
    time: (entry.Time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'eu-west-1',
    resources: entry.Resources ?? [],
    detail: JSON.parse(entry.Detail!) as unknown,
  };
}
