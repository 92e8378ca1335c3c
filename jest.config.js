/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // Real-server tests start Dovecot and move megabytes over loopback.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
};
