// The voice studio as a person uses it: speech with a preset voice, a cloned voice
// from an uploaded sample, both heard; conversion, effects, history and library.
import { readFileSync } from 'node:fs';
import { checkPage, expect, makeSample, signUp, test } from './fixtures.mjs';

async function audioPlays(page, locator) {
  const audio = locator.locator('audio').first();
  await expect(audio).toHaveAttribute('src', /\/media\//);
  // The browser loads and decodes it: its duration becomes known.
  await expect.poll(() => audio.evaluate((a) => { a.muted = true; a.play().catch(() => {}); return a.duration; }), { timeout: 30_000 })
    .toBeGreaterThan(0);
  const src = await audio.getAttribute('src');
  const res = await page.request.get(src);
  expect(res.status()).toBe(200);
  expect((await res.body()).length).toBeGreaterThan(1000);
}

test('text to speech with a preset voice: cost shown, progress, play, download', async ({ page }) => {
  await signUp(page);
  await checkPage(page, 'tts');
  const text = 'Hello from the Reelvox studio. This sentence is turned into speech.';
  await page.getByLabel('Text').fill(text);
  await expect(page.locator('.meta')).toHaveText(`${text.length} / 10000 characters · about 1 credit`);
  await expect(page.getByLabel('Voice', { exact: true })).not.toHaveValue('');
  await page.getByRole('button', { name: 'Generate speech' }).click();
  const job = page.locator('section.job');
  await expect(job).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await audioPlays(page, job);
  const [download] = await Promise.all([page.waitForEvent('download'), job.getByRole('link', { name: 'Download', exact: true }).click()]);
  expect(readFileSync(await download.path()).length).toBeGreaterThan(1000);

  await page.getByRole('link', { name: 'History', exact: true }).click();
  await checkPage(page, 'history');
  await expect(page.getByRole('cell', { name: 'Speech' }).first()).toBeVisible();
  await page.getByRole('button', { name: 'Play' }).first().click();
  await audioPlays(page, page.getByRole('region', { name: 'Now playing' }));
});

test('clone a voice from an uploaded sample and speak with it', async ({ page }) => {
  await signUp(page);
  await page.getByRole('link', { name: 'Voice lab', exact: true }).click();
  await checkPage(page, 'voices');
  await page.getByLabel(/Drop an audio file here/).setInputFiles(makeSample(12));
  await expect(page.getByText(/^Sample: /)).toBeVisible();
  await page.getByLabel('Voice name').fill('My web voice');
  await page.getByRole('button', { name: 'Clone the voice' }).click();
  await expect(page.locator('section.job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  const card = page.locator('.card').filter({ hasText: 'My web voice' });
  await expect(card.locator('.status')).toHaveText('active');

  await page.getByRole('link', { name: 'Speech', exact: true }).click();
  await page.getByLabel('Voice', { exact: true }).selectOption({ label: 'My web voice (your clone)' });
  await page.getByLabel('Text').fill('Now in my own cloned voice.');
  await page.getByRole('button', { name: 'Generate speech' }).click();
  const job = page.locator('section.job');
  await expect(job).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await audioPlays(page, job);
});

test('a sample that is too short is refused with a reason', async ({ page }) => {
  await signUp(page);
  await page.goto('/voices');
  await page.getByLabel(/Drop an audio file here/).setInputFiles(makeSample(3));
  await expect(page.getByText(/^Sample: /)).toBeVisible();
  await page.getByLabel('Voice name').fill('Too short');
  await page.getByRole('button', { name: 'Clone the voice' }).click();
  await expect(page.getByRole('alert').first()).toBeVisible();
  await expect(page.locator('section.job')).toHaveCount(0);
});

test('sound effects, conversion, library and credits pages work', async ({ page }) => {
  await signUp(page);
  await page.getByRole('link', { name: 'Sound effects', exact: true }).click();
  await checkPage(page, 'sfx');
  await page.getByLabel('Describe the sound').fill('rain on a tin roof');
  await page.getByRole('button', { name: 'Make the sound' }).click();
  await expect(page.locator('section.job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });

  await page.getByRole('link', { name: 'Library', exact: true }).click();
  await checkPage(page, 'library');
  await page.getByLabel(/Drop an audio file here/).setInputFiles(makeSample(4));
  await expect(page.locator('.card')).not.toHaveCount(0);

  await page.getByRole('link', { name: 'Conversion', exact: true }).click();
  await checkPage(page, 'convert');
  await page.getByLabel('Source audio').selectOption({ index: 1 });
  await page.getByRole('button', { name: 'Convert' }).click();
  await expect(page.locator('section.job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });

  await page.getByRole('link', { name: 'Credits', exact: true }).click();
  await checkPage(page, 'credits');
  await expect(page.getByRole('cell', { name: 'signup', exact: true })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'job_charge', exact: true }).first()).toBeVisible();
});
