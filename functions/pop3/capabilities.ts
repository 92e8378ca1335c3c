/**
 * RFC 2449 §5 CAPA: one capability per line, a tag followed by optional space-separated
 * arguments. Tags are case-insensitive; they are kept upper-cased here.
 */
export class Capabilities {
  private readonly entries: ReadonlyMap<string, readonly string[]>;

  constructor(entries: ReadonlyMap<string, readonly string[]> = new Map()) {
    this.entries = entries;
  }

  static parse(body: Buffer): Capabilities {
    const entries = new Map<string, string[]>();
    for (const line of body.toString('utf8').split(/\r?\n/)) {
      const words = line.trim().split(/\s+/).filter(Boolean);
      const tag = words.shift();
      if (tag) entries.set(tag.toUpperCase(), words);
    }
    return new Capabilities(entries);
  }

  has(tag: string): boolean {
    return this.entries.has(tag.toUpperCase());
  }

  args(tag: string): readonly string[] {
    return this.entries.get(tag.toUpperCase()) ?? [];
  }

  /** SASL mechanisms offered (RFC 5034 §6), upper-cased. */
  get saslMechanisms(): readonly string[] {
    return this.args('SASL').map((m) => m.toUpperCase());
  }

  get pipelining(): boolean {
    return this.has('PIPELINING');
  }

  /** RFC 2449 §6.5 LOGIN-DELAY: minimum seconds between logins, when the server says. */
  get loginDelaySeconds(): number | undefined {
    return digits(this.args('LOGIN-DELAY')[0]);
  }

  /** RFC 2449 §6.7 EXPIRE: days the server keeps retrieved mail (`NEVER` → undefined). */
  get expireDays(): number | undefined {
    return digits(this.args('EXPIRE')[0]);
  }

  /** Capability tags as the server listed them, e.g. for logging. */
  get tags(): readonly string[] {
    return [...this.entries.keys()];
  }
}

/**
 * RFC 2449 §6.5 / §6.7 give both values as `1*DIGIT`. `Number()` alone also accepted `-5`, `0x10`,
 * `1e3` and `1.5` from a broken server, turning them into a negative or surprising delay.
 */
function digits(value: string | undefined): number | undefined {
  return value !== undefined && /^[0-9]+$/.test(value) ? Number(value) : undefined;
}
