/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The sources' dynamic imports name the compiled file (`./x.js`, as Node's resolution wants).
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  // Real-server tests start Dovecot and move megabytes over loopback.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
};
