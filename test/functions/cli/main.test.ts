import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { COMMAND_OPTIONS } from '../../../functions/cli/command-args';
import {
  COMMAND_OPTIONS as MAILBOXES_COMMAND_OPTIONS,
  MAILBOXES_USAGE,
  TARGET_OPTIONS,
} from '../../../functions/cli/mailboxes/command';
import { DEMO_OPTIONS, helpText, main } from '../../../functions/cli/main';
import { POLL_OPTIONS } from '../../../functions/cli/poll-command';
import { REPLAY_OPTIONS } from '../../../functions/cli/replay-help';

/**
 * `pop3-poller --help` and `pop3-poller <command> --help`: they exit 0, print on stdout, read no
 * config, and carry the same facts as docs/cli.md: every option each parser accepts (with its
 * short form and its default), the exit statuses, and where the docs are.
 */

const ROOT = resolve(__dirname, '../../..');
const CLI_DOC = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((text) => {
    stdout += String(text);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((text) => {
    stderr += String(text);
    return true;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

type Options = Readonly<Record<string, { readonly type: string; readonly short?: string }>>;

/** What each command's parser accepts, as the command files define it. */
const PARSERS: Readonly<Record<'poll' | 'check' | 'demo' | 'replay', Options>> = {
  poll: { ...COMMAND_OPTIONS, ...POLL_OPTIONS },
  check: COMMAND_OPTIONS,
  demo: DEMO_OPTIONS,
  replay: REPLAY_OPTIONS,
};

describe('pop3-poller --help', () => {
  it.each([['--help'], ['-h'], ['help']])('%s prints every command on stdout and exits 0', async (flag) => {
    const help = await run([flag]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    for (const command of [
      'poll --config FILE',
      'check --config FILE',
      'demo',
      'mailboxes',
      'replay',
      '--version',
    ]) {
      expect(help.stdout).toContain(`pop3-poller ${command}`);
    }
    expect(help.stdout).toContain('COMMAND --help');
  });

  it('prints the usage on stderr and exits 2 without a command or with an unknown one', async () => {
    for (const args of [[], ['frobnicate']]) {
      const usage = await run(args);
      expect(usage.code).toBe(2);
      expect(usage.stdout).toBe('');
      expect(usage.stderr).toContain('pop3-poller poll --config FILE');
    }
  });
});

describe.each(['poll', 'check', 'demo', 'replay'] as const)('pop3-poller %s --help', (command) => {
  it('prints the command’s help on stdout and exits 0, however it is asked for', async () => {
    for (const args of [
      [command, '--help'],
      [command, '-h'],
      ['help', command],
      // After other options, and without reading the (missing) config file.
      [command, '--config', join(ROOT, 'no-such-config.json'), '--help'],
    ]) {
      const help = await run(args);
      expect({ args, code: help.code, stderr: help.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(help.stdout).toBe(`${helpText(command)}\n`);
      expect(help.stdout.startsWith(`Usage: pop3-poller ${command}`)).toBe(true);
    }
  });

  it('names every option its parser accepts, with its short form and its default', () => {
    const help = helpText(command);
    for (const [name, option] of Object.entries(PARSERS[command])) {
      const line = help.split('\n').find((l) => l.trimStart().startsWith(`--${name}`));
      expect({ name, line }).toEqual({ name, line: expect.stringMatching(/default: |required/) });
      if (option.short) expect(line).toContain(`-${option.short} `);
    }
    expect(help).toMatch(/--help, -h/);
  });

  it('states the exit statuses and where the docs are', () => {
    const help = helpText(command);
    expect(help).toMatch(/Exit status: 0 .*; 75 .*;\n1 .*; 2 /);
    expect(help).toContain('docs/cli.md');
    expect(help).toContain('docs/errors.md');
    if (command === 'poll' || command === 'replay') expect(help).toMatch(/SIGINT.*SIGTERM[\s\S]*130 or 143/);
  });

  it('has every option documented in docs/cli.md as well', () => {
    for (const [name, option] of Object.entries(PARSERS[command])) {
      const row = CLI_DOC.split('\n').find((l) => l.startsWith(`| \`--${name}`));
      expect({ name, row }).toEqual({ name, row: expect.stringContaining(command) });
      if (option.short) expect(row).toContain(`\`-${option.short}\``);
    }
  });
});

describe('pop3-poller mailboxes --help', () => {
  it.each([
    [['mailboxes', '--help']],
    [['mailboxes', '-h']],
    [['help', 'mailboxes']],
    ...Object.keys(MAILBOXES_COMMAND_OPTIONS).map((sub) => [['mailboxes', sub, '--help']]),
  ])('%j prints the mailboxes help on stdout and exits 0', async (args) => {
    const help = await run(args);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toBe(`${MAILBOXES_USAGE}\n`);
  });

  it('names every option of every subcommand, and where the docs are', () => {
    const options: Options[] = [TARGET_OPTIONS, ...Object.values(MAILBOXES_COMMAND_OPTIONS)];
    for (const name of options.flatMap((o) => Object.keys(o))) {
      expect({ name, found: MAILBOXES_USAGE.includes(`--${name}`) }).toEqual({ name, found: true });
    }
    expect(MAILBOXES_USAGE).toMatch(/Exit status: 0 .*; 1 .*\n2 /);
    expect(MAILBOXES_USAGE).toContain('docs/fleet.md');
  });
});

describe('docs/cli.md', () => {
  it('lists every exit status the CLI can end with', () => {
    for (const code of [0, 75, 1, 2, 130, 143]) expect(CLI_DOC).toContain(`| \`${code}\``);
  });
});

describe('the pop3-poller process', () => {
  const exec = promisify(execFile);
  const cli = (...args: string[]) =>
    exec(process.execPath, ['--import', 'tsx', 'functions/cli/main.ts', ...args], { cwd: ROOT });

  it('exits 0 after printing a command’s help', async () => {
    const { stdout, stderr } = await cli('poll', '--help');
    expect(stdout).toBe(`${helpText('poll')}\n`);
    expect(stderr).toBe('');
  });

  it('exits 2 on a usage error, with the message and that command’s help on stderr', async () => {
    await expect(cli('check', '--json')).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: `pop3-poller: check needs --config FILE\n\n${helpText('check')}\n`,
    });
  });
});
