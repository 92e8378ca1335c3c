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
Source (one is required):
  --archive DIR           a directory archive (poll's archive.dir)          required: one source
  --bucket B              an S3 archive bucket                              required: one source
  --prefix P              with --bucket: the keys' prefix (mail/)           default: none
  --endpoint URL          with --bucket: an S3-compatible endpoint          default: AWS's
  --stack NAME            a deployed stack: its ArchiveBucketName,          required: one source
                          ArchivePrefix and EventBusName outputs
  --region R              of the bucket, the stack and the bus              default: the SDK's
Range (all given must hold):
  --account ID            only this account; repeat for several             default: every account
  --since T               archive time from T (inclusive)                   default: the beginning
  --until T               archive time before T (exclusive)                 default: now
                          T: 2026-12-01 (midnight UTC) or 2026-12-01T08:30Z; UTC unless an
                          offset is given (2026-12-01T09:30+01:00)
  --prefix-key P          only archive keys starting with P (support/3f)    default: any key
  --header 'Name: text'   a header of that name contains text (decoded,     default: no filter
                          any case); repeat: all must match
Destination (one is required, except with --stack or --dry-run):
  --events-file FILE      append JSON lines, as poll's events.file          default: none
  --stdout                JSON lines on stdout                              default: off
  --event-bus NAME        put to this EventBridge bus                       default: --stack's bus
Run:
  --rate N                events per second, 0 for no limit                 default: ${DEFAULT_BUS_RATE} to a bus,
                                                                            no limit to a file
  --dry-run               print how many events (and bytes) would be        default: off
                          re-emitted; emit nothing, write nothing
  --state FILE            where the checkpoint is kept as the run goes      default: ${DEFAULT_STATE_DIR}/RUNID.json
  --resume FILE           resume the run of that state file (its options,   default: a new run
                          its runId); nothing up to its checkpoint again
  --help, -h              this help

Events go out in archive-key order, accounts sorted. On SIGINT or SIGTERM the events in flight
are published, the checkpoint saved, and it prints the command that resumes; a second signal
exits at once (130 or 143). A resume may repeat up to one batch (10 events): at-least-once.
An object whose bytes do not hash to its key is reported and skipped, never changed (exit 1).
Exit status: 0 every event re-emitted; 75 stopped, or a temporary failure (resume later);
1 something needs attention (a corrupt object, access denied); 2 bad usage.
Docs: docs/replay.md, docs/cli.md and docs/errors.md in the pop3-poller project.`;
