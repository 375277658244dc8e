/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // Transpile each file alone (isolatedModules): no type program per run, much faster on a cold
  // cache as in CI; `npm test` type-checks everything with tsc before jest.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json', diagnostics: false }] },
  setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/setup.ts'],
  // Every test stays under a third of this on a quiet 2-core machine.
  testTimeout: 60000,
};
