// What every browser test shares: a page whose console errors and failed requests
// fail the test, fresh users made through the UI, axe checks and screenshots.
import { test as base, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS = process.env.RV_WEB_RESULTS || 'results';
const SHOTS = join(RESULTS, 'screenshots');
mkdirSync(SHOTS, { recursive: true });

export const test = base.extend({
  page: async ({ page }, use, info) => {
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error' && !expectedError(m.text())) problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      const why = r.failure()?.errorText || '';
      // A media element abandoning a range request when the page moves on is not a failure.
      if (!why.includes('ERR_ABORTED')) problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 500) problems.push(`server error: ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    await use(page);
    expect(problems, `${info.title}: browser problems`).toEqual([]);
  },
});
export { expect };

// Errors the API is expected to answer in a test (a 4xx is logged by chromium as
// "Failed to load resource"): the tests that provoke them check what the page shows.
function expectedError(text) {
  return /Failed to load resource: the server responded with a status of 4\d\d/.test(text);
}

let n = 0;
export function newEmail(tag = 'web') {
  return `${tag}-${Date.now()}-${process.pid}-${++n}@example.com`;
}

export async function signUp(page, { email = newEmail(), password = 'correct horse battery', name = 'Web Tester' } = {}) {
  await page.goto('/signup');
  await page.getByLabel('Name (optional)').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/tts$/);
  await expect(page.getByRole('heading', { name: 'Text to speech' })).toBeVisible();
  return { email, password };
}

// Serious or critical axe findings fail; a screenshot at phone and desktop width.
export async function checkPage(page, name) {
  const axe = await new AxeBuilder({ page }).analyze();
  const bad = axe.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), `${name}: accessibility`).toEqual([]);
  for (const [w, h] of [[375, 812], [1280, 800]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: join(SHOTS, `${name}-${w}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

// A real audio sample of a tone and noise (a clone needs 10 s to 5 min of audio).
export function makeSample(seconds = 12) {
  const path = join(tmpdir(), `rv-web-sample-${process.pid}-${++n}.wav`);
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
    `sine=frequency=180:duration=${seconds}`, '-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:a=0.05`,
    '-filter_complex', 'amix=inputs=2', '-ar', '22050', '-ac', '1', path]);
  return path;
}

// A real photo made by ffmpeg: a test pattern as JPEG or PNG (by the extension).
export function makePhoto(ext = 'jpg', size = '640x480') {
  const path = join(tmpdir(), `rv-web-photo-${process.pid}-${++n}.${ext}`);
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:duration=1`,
    '-frames:v', '1', path]);
  return path;
}

// scripts/rvctl against the test stack's database (as tests/integration/test_rvctl.py).
export function rvctl(...args) {
  const dir = process.env.RV_DATA_DIR;
  if (!dir) throw new Error('RV_DATA_DIR is not set: run the browser tests through scripts/test');
  const pg = realpathSync(join(dir, 'pg'));
  return execFileSync(join(REPO, 'scripts/rvctl'), args,
    { env: { ...process.env, RV_MIGRATE_URL: `host=${pg} dbname=reelvox user=postgres` }, encoding: 'utf8' });
}

export async function signIn(page, { email, password }) {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/tts$/);
}

export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
}

// The link (verify or reset) in the newest mail the SMTP capture server kept for
// this address (RV_SMTP_CAPTURE_DIR: each message a .eml beside its envelope .json).
export async function mailLink(email, kind, { after = 0, timeout = 30_000 } = {}) {
  const dir = process.env.RV_SMTP_CAPTURE_DIR;
  if (!dir) throw new Error('RV_SMTP_CAPTURE_DIR is not set: run the browser tests through scripts/test');
  const re = new RegExp(`https?://[^\\s"<>]+/${kind}\\?token=[0-9a-f]+`);
  const deadline = Date.now() + timeout;
  for (let wait = 100; ; wait = Math.min(1000, wait * 2)) {
    let names = [];
    try { names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort(); } catch { /* not made yet */ }
    for (const f of names.reverse()) {
      const path = join(dir, f);
      let env;
      try { env = JSON.parse(readFileSync(path, 'utf8')); } catch { continue; }
      if (!env.to.includes(email) || statSync(path).mtimeMs < after) continue;
      const raw = readFileSync(path.replace(/\.json$/, '.eml'), 'latin1');
      const text = [...raw.matchAll(/Content-Transfer-Encoding: base64\r?\n(?:[^\r\n]+\r?\n)*\r?\n([A-Za-z0-9+/=\r\n]+)/g)]
        .map((m) => Buffer.from(m[1].replace(/\s/g, ''), 'base64').toString('utf8')).join('\n') + raw;
      const link = text.match(re);
      if (link) return link[0];
    }
    if (Date.now() > deadline) throw new Error(`no ${kind} mail for ${email}`);
    await new Promise((ok) => setTimeout(ok, wait));
  }
}
