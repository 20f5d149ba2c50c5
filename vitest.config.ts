import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: CI shares two cores between the suites, PostgreSQL, the emulator and Chromium.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts', 'test/helpers/firestore-global-setup.ts'],
  },
});
