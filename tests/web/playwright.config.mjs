// Browser tests of the web studio: Playwright driving Debian's chromium (never a
// downloaded browser) against the stack scripts/test brings up (RV_TEST_URL).
import { defineConfig } from '@playwright/test';

const out = process.env.RV_WEB_RESULTS || 'results';
export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.mjs/,
  outputDir: `${out}/artifacts`,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: `${out}/report.json` }]],
  use: {
    baseURL: process.env.RV_TEST_URL || 'http://127.0.0.1:18080',
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.RV_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] },
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
  },
});
