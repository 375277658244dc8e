/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/setup.ts'],
  // Every test stays under a third of this on a quiet 2-core machine.
  testTimeout: 60000,
};
