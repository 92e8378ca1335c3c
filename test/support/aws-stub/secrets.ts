import { randomUUID } from 'node:crypto';
import { StubError, check, type Wire } from './http';

/**
 * Secrets Manager (JSON 1.1, `secretsmanager.<Operation>`): string secrets with versions;
 * a SecretId is a name or the ARN the stub gave it.
 */

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly created: number;
  /** Oldest first; the last one is AWSCURRENT. */
  readonly versions: Array<{ versionId: string; secretString: string; created: number }>;
}

export class SecretsStub {
  private readonly secrets = new Map<string, Secret>();

  constructor(
    private readonly region: string,
    private readonly now: () => number,
  ) {}

  /** Seeds (or adds a version to) a secret. */
  put(id: string, secretString: string): void {
    const secret = this.find(id) ?? this.create(id);
    secret.versions.push({ versionId: randomUUID(), secretString, created: this.now() });
  }
  /** The current SecretString, or undefined. */
  get(id: string): string | undefined {
    return this.find(id)?.versions.at(-1)?.secretString;
  }
  /** Every SecretString written, oldest first. */
  versions(id: string): string[] {
    return this.find(id)?.versions.map((v) => v.secretString) ?? [];
  }
  arn(id: string): string | undefined {
    return this.find(id)?.arn;
  }
  reset(): void {
    this.secrets.clear();
  }

  private find(id: string): Secret | undefined {
    return this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
  }
  private create(name: string): Secret {
    const suffix = randomUUID().replace(/-/g, '').slice(0, 6);
    const secret: Secret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:000000000000:secret:${name}-${suffix}`,
      created: this.now(),
      versions: [],
    };
    this.secrets.set(name, secret);
    return secret;
  }
  private existing(id: unknown): Secret {
    check(typeof id === 'string' && id.length > 0, 'SecretId is required', 'InvalidParameterException');
    const secret = this.find(id);
    if (!secret)
      throw new StubError(
        400,
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    return secret;
  }

  readonly operations: Readonly<Record<string, (input: Wire) => unknown>> = {
    GetSecretValue: (input) => {
      const secret = this.existing(input.SecretId);
      check(
        input.VersionStage === undefined || input.VersionStage === 'AWSCURRENT',
        'the stub keeps AWSCURRENT only',
        'InvalidParameterException',
      );
      const version = input.VersionId
        ? secret.versions.find((v) => v.versionId === input.VersionId)
        : secret.versions.at(-1);
      if (!version)
        throw new StubError(
          400,
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret value.",
        );
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        SecretString: version.secretString,
        VersionStages: version === secret.versions.at(-1) ? ['AWSCURRENT'] : [],
        CreatedDate: version.created / 1000,
      };
    },
    PutSecretValue: (input) => {
      const secret = this.existing(input.SecretId);
      check(
        typeof input.SecretString === 'string',
        'the stub takes SecretString only',
        'InvalidParameterException',
      );
      const versionId = input.ClientRequestToken ?? randomUUID();
      const same = secret.versions.find((v) => v.versionId === versionId);
      if (same && same.secretString !== input.SecretString) {
        throw new StubError(
          400,
          'ResourceExistsException',
          'A version with this ClientRequestToken already exists with other content.',
        );
      }
      if (!same) secret.versions.push({ versionId, secretString: input.SecretString, created: this.now() });
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
    },
    CreateSecret: (input) => {
      check(
        typeof input.Name === 'string' && input.Name.length > 0,
        'Name is required',
        'InvalidParameterException',
      );
      if (this.find(input.Name))
        throw new StubError(400, 'ResourceExistsException', `The secret ${input.Name} already exists.`);
      const secret = this.create(input.Name);
      const versionId = input.ClientRequestToken ?? randomUUID();
      if (typeof input.SecretString === 'string') {
        secret.versions.push({ versionId, secretString: input.SecretString, created: this.now() });
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.versions.length > 0 ? { VersionId: versionId } : {}),
      };
    },
    ListSecrets: (input) => {
      const filters: Array<{ Key: string; Values: string[] }> = input.Filters ?? [];
      for (const f of filters)
        check(f.Key === 'name', `the stub filters on name only, not ${f.Key}`, 'InvalidParameterException');
      const all = [...this.secrets.values()]
        .filter((s) => filters.every((f) => f.Values.some((v) => s.name.startsWith(v))))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      const start = input.NextToken ? Number(input.NextToken) : 0;
      const max = input.MaxResults ?? 100;
      const page = all.slice(start, start + max);
      return {
        SecretList: page.map((s) => ({ ARN: s.arn, Name: s.name, CreatedDate: s.created / 1000 })),
        ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
      };
    },
  };
}
