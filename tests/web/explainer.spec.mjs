// The explainer wizard as a person uses it: a topic, a script written in the
// editor, narration, images, a render watched and downloaded; and auto mode, where
// the whole chain runs from one click and the page follows its steps.
import { readFileSync } from 'node:fs';
import { checkPage, expect, signUp, test } from './fixtures.mjs';

async function stepSucceeds(page, button) {
  await page.getByRole('button', { name: button }).click();
  const job = page.locator('section.job');
  await expect(job).toHaveAttribute('data-status', /running|queued|dispatching|succeeded/);
  await expect(job).toHaveAttribute('data-status', 'succeeded', { timeout: 120_000 });
}

async function videoPlaysAndDownloads(page) {
  const video = page.getByLabel('Rendered video');
  await expect(video).toHaveAttribute('src', /\/media\//, { timeout: 120_000 });
  await expect.poll(() => video.evaluate((v) => v.readyState >= 1 && v.duration), { timeout: 30_000 }).toBeGreaterThan(1);
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download the video' }).click()]);
  const bytes = readFileSync(await download.path());
  expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp'); // an MP4
  expect(bytes.length).toBeGreaterThan(10_000);
}

test('explainer by hand: script editor → narration → images → render', async ({ page }) => {
  test.setTimeout(300_000);
  await signUp(page);
  await page.getByRole('link', { name: 'Explainers', exact: true }).click();
  await checkPage(page, 'videos');
  await page.getByLabel('Title').fill('Rice');
  await page.getByLabel('Topic').fill('How long does rice take to grow?');
  await page.getByLabel('Length (seconds)').fill('15');
  await page.getByRole('button', { name: 'Start the video' }).click();
  await expect(page).toHaveURL(/\/videos\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'Rice' })).toBeVisible();

  // A section with no text is refused beside its field, then the script is saved.
  await page.getByRole('button', { name: 'Add a section' }).click();
  await page.getByRole('button', { name: 'Save the script' }).click();
  await expect(page.getByRole('alert').first()).toBeVisible();
  await page.getByLabel('Heading 1').fill('Planting');
  await page.getByLabel('Text 1').fill('Rice is planted in flooded fields in spring.');
  await page.getByRole('button', { name: 'Add a section' }).click();
  await page.getByLabel('Text 2').fill('It is harvested about four months later.');
  await page.getByRole('button', { name: 'Save the script' }).click();
  await expect.poll(() => page.evaluate((id) => fetch(`/api/videos/${id}`).then((r) => r.json()).then((v) => v.sections.length),
    page.url().split('/').pop())).toBe(2);
  await checkPage(page, 'video');

  await stepSucceeds(page, 'Narrate');
  await stepSucceeds(page, 'Find images');
  await expect(page.locator('.cards .card img')).toHaveCount(2);
  await page.getByLabel('Captions').selectOption('burned');
  await stepSucceeds(page, 'Render the video');
  await videoPlaysAndDownloads(page);
  // The captions, as the page's own player asks for them (the session's cookie).
  const vtt = await page.evaluate((id) => fetch(`/api/videos/${id}/captions.vtt`)
    .then(async (r) => ({ status: r.status, text: await r.text() })), page.url().split('/').pop());
  expect(vtt.status).toBe(200);
  expect(vtt.text).toMatch(/^WEBVTT/);
});

test('explainer in auto mode: one click, the page follows every step', async ({ page }) => {
  test.setTimeout(300_000);
  await signUp(page);
  await page.goto('/videos');
  await page.getByLabel('Title').fill('Tides');
  await page.getByLabel('Topic').fill('Why are there two tides a day?');
  await page.getByLabel('Length (seconds)').fill('15');
  await page.getByLabel('Make the whole video automatically').check();
  await page.getByRole('button', { name: 'Start the video' }).click();
  await expect(page).toHaveURL(/\/videos\/[0-9a-f-]{36}$/);
  await expect(page.locator('.steps li[aria-current="step"]')).toBeVisible();
  await expect(page.getByLabel('Text 1')).not.toHaveValue('', { timeout: 120_000 }); // the script arrived
  await videoPlaysAndDownloads(page);
  await expect(page.locator('.steps li.done')).toHaveCount(4);
});
