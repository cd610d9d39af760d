// The clip studio as a person uses it: a project, real photos uploaded, clips made
// by the Runway simulator, watched, approved, reordered by drag and drop (kept
// after a reload), compiled with music, watched and downloaded as an MP4.
import { readFileSync } from 'node:fs';
import { checkPage, expect, makePhoto, signUp, test } from './fixtures.mjs';

test('clip studio: photos → clips → drag to reorder → compile with music → download', async ({ page }) => {
  test.setTimeout(180_000);
  await signUp(page);
  await page.getByRole('link', { name: 'Clips', exact: true }).click();
  await page.getByLabel('New project').fill('Holiday reel');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByLabel('Project', { exact: true })).toHaveValue(/[0-9a-f-]{36}/);

  const drop = page.getByLabel(/Drop a photo here/);
  await drop.setInputFiles(makePhoto('jpg'));
  await expect(page.locator('.cards .card')).toHaveCount(1);
  await drop.setInputFiles(makePhoto('png', '480x480'));
  await expect(page.locator('.cards .card')).toHaveCount(2);
  const names = await page.locator('.cards .card img').evaluateAll((imgs) => imgs.map((i) => i.alt));
  for (const name of names) await page.getByRole('button', { name: `Make a 5 s clip of ${name}` }).click();
  const clips = page.locator('ol.clips > li');
  await expect(clips).toHaveCount(2);
  await expect(clips.locator('.status.succeeded')).toHaveCount(2, { timeout: 90_000 });
  // Each clip plays: the browser loads it and knows its length.
  for (let i = 0; i < 2; i++) {
    const v = clips.nth(i).locator('video');
    await expect.poll(() => v.evaluate((x) => x.readyState >= 1 && x.duration), { timeout: 30_000 }).toBeGreaterThan(1);
  }
  await checkPage(page, 'clips');
  for (let i = 1; i <= 2; i++) await page.getByLabel(`Approve clip ${i}`).check();
  await expect(page.getByLabel('Approve clip 2')).toBeChecked();

  // Drag the second clip onto the first: the order flips and is kept.
  const before = await clips.evaluateAll((ls) => ls.map((l) => l.dataset.clip));
  const project = await page.getByLabel('Project', { exact: true }).inputValue();
  const saved = () => page.evaluate((id) => fetch(`/api/clips?projectId=${id}&limit=100`).then((r) => r.json())
    .then((d) => d.items.sort((x, y) => x.position - y.position).map((c) => `${c.id}:${c.approved}`)), project);
  await expect.poll(saved).toEqual(before.map((id) => `${id}:true`)); // the approvals are kept
  await clips.nth(1).dragTo(clips.nth(0));
  await expect.poll(() => clips.evaluateAll((ls) => ls.map((l) => l.dataset.clip))).toEqual([before[1], before[0]]);
  await expect.poll(saved).toEqual([before[1], before[0]].map((id) => `${id}:true`)); // and the order
  await expect(page.getByRole('button', { name: 'Compile 2 approved clips' })).toBeEnabled();
  await page.reload();
  await expect(clips).toHaveCount(2);
  await expect.poll(() => clips.evaluateAll((ls) => ls.map((l) => l.dataset.clip))).toEqual([before[1], before[0]]);

  await page.getByLabel('Transition').selectOption('dissolve');
  await page.getByLabel('Music', { exact: true }).selectOption({ index: 1 });
  await page.getByLabel(/Music volume/).fill('30');
  await page.getByRole('button', { name: 'Compile 2 approved clips' }).click();
  await expect(page.locator('section.job')).toHaveAttribute('data-status', 'succeeded', { timeout: 120_000 });
  const video = page.getByLabel('Compiled video');
  await expect.poll(() => video.evaluate((x) => { x.muted = true; x.play().catch(() => {}); return x.duration; }), { timeout: 30_000 })
    .toBeGreaterThan(5);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the video' }).click()]);
  const mp4 = readFileSync(await download.path());
  expect(mp4.subarray(4, 8).toString('latin1')).toBe('ftyp');
  expect(mp4.length).toBeGreaterThan(20_000);
  expect(mp4.length).toBeLessThan(50_000_000);
});
