/**
 * `replay`'s options and help, apart from the command so that main.ts can print the help without
 * loading the readers.
 */

/** `replay`'s options (main.test.ts checks each is in the help and docs/cli.md). */
export const REPLAY_OPTIONS = {
  archive: { type: 'string' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  stack: { type: 'string' },
  account: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  'prefix-key': { type: 'string' },
  header: { type: 'string', multiple: true },
  'events-file': { type: 'string' },
  stdout: { type: 'boolean', default: false },
  'event-bus': { type: 'string' },
  rate: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  state: { type: 'string' },
  resume: { type: 'string' },
} as const;

/** Events per second put on an EventBridge bus unless `--rate` says otherwise. */
export const DEFAULT_BUS_RATE = 100;
/** Where the state file goes unless `--state` says: `<dir>/<runId>.json`, under the current directory. */
export const DEFAULT_STATE_DIR = '.pop3-poller-replay';

export const REPLAY_HELP = `Usage: pop3-poller replay SOURCE [RANGE] [DESTINATION] [--rate N] [--dry-run] [--state FILE]
       pop3-poller replay --resume FILE [--rate N]
Re-emit the "Message Archived" events of archived messages: the same ids and detail as the
originals, plus detail.replay = { runId, requestedAt }. Reads the archive only; never writes,
changes or deletes an archived object.
Source (one):
  --archive DIR           a directory archive (poll's archive.dir)
  --bucket B              an S3 archive bucket; with --prefix P (the keys'   default: no prefix
                          prefix), --region R, --endpoint URL                default: the SDK's
  --stack NAME            a deployed stack: its ArchiveBucketName,
                          ArchivePrefix and EventBusName outputs (--region R)
Range (all must hold):
  --account ID            only this account; repeat for several            default: every account
  --since T, --until T    archive time: since T (inclusive) until T         default: unbounded
                          (exclusive); T is 2026-12-01 (midnight UTC) or
                          2026-12-01T08:30Z, UTC unless an offset is given
  --prefix-key P          only archive keys starting with P                 default: any key
                          (e.g. support/3f)
  --header 'Name: text'   a header of that name contains text (decoded,     default: no filter
                          any case); repeat: all must match
Destination (one):
  --events-file FILE      append JSON lines, as poll's events.file          default with --stack: its bus
  --stdout                JSON lines on stdout                              default: off
  --event-bus NAME        put to this EventBridge bus (--region R)
Run:
  --rate N                events per second, 0 for no limit                 default: ${DEFAULT_BUS_RATE} to a bus,
                                                                           no limit to a file
  --dry-run               print how many events (and bytes) would be        default: off
                          re-emitted; emit nothing, write nothing
  --state FILE            where the checkpoint is kept as the run goes      default: ${DEFAULT_STATE_DIR}/RUNID.json
  --resume FILE           resume the run of this state file (its options,   default: a new run
                          its runId); nothing before its checkpoint again
  --help, -h              this help

Events go out in archive-key order, accounts sorted. On SIGINT or SIGTERM the events in flight
are published, the checkpoint saved, and it prints the command that resumes; a second signal
exits at once (130 or 143), and resuming may repeat up to one batch (10 events): at-least-once.
An object whose bytes do not hash to its key is reported and skipped, never changed (exit 1).
Exit status: 0 every event re-emitted; 75 stopped, or a temporary failure (resume later);
1 something needs attention (a corrupt object, access denied); 2 bad usage.
Docs: docs/replay.md, docs/cli.md and docs/errors.md in the pop3-poller project.`;
