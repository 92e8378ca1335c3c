import { main, parseArgs, UsageError, USAGE } from '../../scripts/aws-e2e';
import { VARIABLES } from '../../scripts/e2e/settings';

/** The command line of scripts/aws-e2e.ts: what it does before it touches a mailbox or AWS. */

const PASSWORD = 'pw-DO-NOT-ECHO-7f3a';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return {
    out: () => out.join(''),
    err: () => err.join(''),
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

describe('scripts/aws-e2e.ts command line', () => {
  it('parses --help, -h and --synth-only, and nothing else', () => {
    expect(parseArgs([])).toEqual({ help: false, synthOnly: false });
    expect(parseArgs(['--help'])).toEqual({ help: true, synthOnly: false });
    expect(parseArgs(['-h', '--synth-only'])).toEqual({ help: true, synthOnly: true });
    expect(() => parseArgs(['--keep'])).toThrow(new UsageError('unknown argument "--keep" (see --help)'));
  });

  it('documents every variable, the AWS ones, the exit codes, and that the mailbox is emptied', () => {
    for (const [name] of VARIABLES) expect(USAGE).toContain(`  ${name} `);
    expect(USAGE).toMatch(/AWS_REGION .*required/);
    expect(USAGE).toContain('AWS_PROFILE');
    expect(USAGE).toContain('THE RUN DELETES EVERY MESSAGE IN THE TEST MAILBOX');
    expect(USAGE).toMatch(
      /Exit code: 0 pass, 1 failure or resources left behind \(listed\), 2 bad arguments/,
    );
  });

  it('prints the usage for --help and exits 0', async () => {
    const io = capture();
    try {
      await expect(main(['--help'], {})).resolves.toBe(0);
    } finally {
      io.restore();
    }
    expect(io.out()).toBe(USAGE);
  });

  it('exits 2 on an unknown argument', async () => {
    const io = capture();
    try {
      await expect(main(['--bogus'], {})).resolves.toBe(2);
    } finally {
      io.restore();
    }
    expect(io.err()).toBe('UsageError: unknown argument "--bogus" (see --help)\n');
  });

  it('exits 2 on bad settings, listing each, without echoing the password and before any AWS call', async () => {
    const io = capture();
    try {
      await expect(
        main([], { E2E_POP3_PASSWORD: PASSWORD, E2E_POP3_PORT: PASSWORD, E2E_POP3_PASSWD: PASSWORD }),
      ).resolves.toBe(2);
    } finally {
      io.restore();
    }
    const err = io.err();
    expect(err).toContain('Invalid end-to-end test settings:');
    expect(err).toContain('  - E2E_POP3_PASSWD is not a known variable');
    expect(err).toContain('  - E2E_POP3_HOST is not set');
    expect(err).toContain('  - E2E_POP3_PORT must be an integer from 1 to 65535');
    expect(err).toContain('  - AWS_REGION (or AWS_DEFAULT_REGION) is not set');
    expect(err).toContain('See: npx tsx scripts/aws-e2e.ts --help');
    expect(err + io.out()).not.toContain(PASSWORD);
    expect(io.out()).toBe('');
  });
});
