// Projects and experts as both sides use them: the owner makes a project with an
// audio and gets the rule-based estimate; an expert (the role given with
// scripts/rvctl) saves a profile; the owner assigns them (the price held in escrow),
// they talk, the expert delivers and submits, the owner asks for changes once,
// then accepts and rates.
import { checkPage, expect, makeSample, rvctl, signIn, signOut, signUp, test } from './fixtures.mjs';

test('a project from estimate to rating, with an expert and messages both ways', async ({ page }) => {
  test.setTimeout(150_000);
  const tag = Date.now().toString(36);
  const expertName = `Erin Web ${tag}`;
  const expert = await signUp(page, { name: expertName });
  rvctl('user', 'role', expert.email, 'expert');
  await signOut(page);
  await signIn(page, expert);
  await page.getByRole('link', { name: 'Expert area', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill(expertName);
  await page.getByLabel('Bio').fill('Podcasts mixed and mastered.');
  await page.getByLabel('Hourly rate (cents)').fill('6000');
  await page.getByLabel('dubbing').check();
  await page.getByLabel('mastering').check();
  await page.getByLabel('Languages (comma separated)').fill('en, cy');
  await page.getByRole('button', { name: 'Save the profile' }).click();
  await expect(page.getByRole('status')).toHaveText('Your profile is saved.');
  await checkPage(page, 'expert');
  await signOut(page);

  const owner = await signUp(page);
  rvctl('user', 'grant', owner.email, '5000', 'browser test budget');
  await page.getByRole('link', { name: 'Projects', exact: true }).click();
  await page.getByLabel('Project name').fill(`Episode ${tag}`);
  await page.getByLabel('Description').fill('Clean up and master one episode.');
  await page.getByRole('button', { name: 'Create the project' }).click();
  await expect(page.getByRole('heading', { name: `Episode ${tag}` })).toBeVisible();
  const projectUrl = page.url();
  await page.getByLabel(/Drop an audio file for this project here/).setInputFiles(makeSample(5));
  await expect(page.getByRole('button', { name: /^Detach / })).toBeVisible();
  await page.getByRole('button', { name: 'Estimate the work' }).click();
  await expect(page.locator('.status').first()).toHaveText('ready', { timeout: 30_000 });
  await expect(page.getByText('rule-based estimate')).toBeVisible();
  await checkPage(page, 'project');

  await page.getByLabel('Specialty').selectOption('dubbing');
  await page.getByLabel('Language').fill('cy');
  await page.getByRole('button', { name: `Assign ${expertName}` }).click();
  await expect(page.locator('.status').first()).toHaveText('in_progress');
  await expect(page.getByText(/price \d+ credits/)).toBeVisible();
  await page.getByLabel('Message').fill('Hello! Please keep the intro music.');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('.messages li').first()).toContainText('Please keep the intro music.');
  await signOut(page);

  await signIn(page, expert);
  await page.goto('/expert');
  await page.getByRole('link', { name: `Episode ${tag}` }).click();
  await expect(page).toHaveURL(projectUrl);
  await expect(page.locator('.messages li').first()).toContainText('Please keep the intro music.');
  await page.getByLabel('Message').fill('Will do. Delivering now.');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('.messages li').first()).toContainText('Will do.');
  await page.getByLabel(/Drop a finished audio file to deliver here/).setInputFiles(makeSample(6));
  await expect(page.locator('section').filter({ hasText: 'Deliverables' }).locator('audio')).toHaveCount(1);
  await page.getByRole('button', { name: 'Submit for review' }).click();
  await expect(page.locator('.status').first()).toHaveText('review');
  await signOut(page);

  // Changes asked once: back to the expert, the request in the thread.
  await signIn(page, owner);
  await page.goto(projectUrl);
  await expect(page.locator('.messages li').first()).toContainText('Will do.');
  await page.getByLabel('What should change?').fill('A little less reverb, please.');
  await page.getByRole('button', { name: 'Ask for changes' }).click();
  await expect(page.locator('.status').first()).toHaveText('in_progress');
  await expect(page.locator('.messages li').first()).toContainText('A little less reverb, please.');
  await signOut(page);
  await signIn(page, expert);
  await page.goto(projectUrl);
  await expect(page.locator('.messages')).toContainText('A little less reverb, please.');
  await page.getByRole('button', { name: 'Submit for review' }).click();
  await expect(page.locator('.status').first()).toHaveText('review');
  await signOut(page);

  await signIn(page, owner);
  await page.goto(projectUrl);
  await page.getByRole('button', { name: 'Accept the delivery' }).click();
  await expect(page.locator('.status').first()).toHaveText('completed');
  await page.getByLabel('Stars').selectOption('4');
  await page.getByLabel('Comment').fill('Clean work, on time.');
  await page.getByRole('button', { name: 'Rate the expert' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Thank you' })).toBeVisible();
  await checkPage(page, 'project-done');
});
