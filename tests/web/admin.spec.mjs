// The admin console as an admin uses it (made one with scripts/rvctl): a price
// changed in the configuration editor — a wrong type refused inline first — and
// seen in the audit log; a job refunded (once); users searched, credits granted,
// an account disabled (its sign-in refused) and enabled again; stats.
import { checkPage, expect, rvctl, signIn, signOut, signUp, test } from './fixtures.mjs';

test('an admin changes a price, refunds a job, grants credits, disables an account, reads stats and the audit log', async ({ page }) => {
  const customer = await signUp(page);
  const start = Number((await page.locator('.credits').textContent()).match(/\d+/)[0]);
  await page.getByLabel('Text').fill('A job for the admin to see.');
  await page.getByRole('button', { name: 'Generate speech' }).click();
  await expect(page.locator('section.job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await signOut(page);
  const admin = await signUp(page);
  rvctl('user', 'role', admin.email, 'admin');
  await signOut(page);
  await signIn(page, admin);
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Overview' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'jobsLast24h' })).toBeVisible();
  await checkPage(page, 'admin-stats');

  // A price: first a wrong type (refused, the field named beside the editor), then a valid one.
  await page.getByRole('link', { name: 'Configuration', exact: true }).click();
  const editor = page.getByLabel('job_costs', { exact: true });
  const costs = JSON.parse(await editor.inputValue());
  const price = costs.sfx.flat + 1;
  await editor.fill(JSON.stringify({ ...costs, sfx: { flat: 'three' } }, null, 2));
  await page.getByRole('button', { name: 'Save job_costs' }).click();
  const form = page.locator('form.config').filter({ has: editor });
  await expect(form.getByRole('alert')).toContainText('value.sfx.flat');
  await expect(editor).toHaveAttribute('aria-invalid', 'true');
  await checkPage(page, 'admin-config');
  await editor.fill(JSON.stringify({ ...costs, sfx: { flat: price } }, null, 2));
  await page.getByRole('button', { name: 'Save job_costs' }).click();
  await expect(form.getByRole('status')).toHaveText(/^Saved /);
  expect(JSON.parse(rvctl('config', 'get', 'job_costs')).sfx.flat).toBe(price);

  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: 'config.update job_costs' }).first();
  await expect(row).toContainText(admin.email);
  await row.getByText('Show').click();
  await expect(row.locator('pre')).toContainText(`"flat": ${price}`);
  await checkPage(page, 'admin-audit');

  // The customer's speech (the newest): its charge given back once, refused the second time.
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByLabel('Kind').selectOption('tts');
  await expect(page.getByRole('cell', { name: 'succeeded' }).first()).toBeVisible();
  await checkPage(page, 'admin-jobs');
  const job = page.locator('tbody tr').first();
  await job.getByRole('button', { name: 'Refund' }).click();
  await expect(page.getByRole('status')).toHaveText('Refunded: 1 credit went back to the user.');
  await job.getByRole('button', { name: 'Refund' }).click();
  await expect(page.getByRole('alert')).toBeVisible();

  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByLabel('Search').fill(customer.email);
  await expect(page.getByRole('row')).toHaveCount(2); // the header and the customer
  await page.getByRole('button', { name: `Manage ${customer.email}` }).click();
  const detail = page.getByRole('region', { name: `User ${customer.email}` });
  const before = Number(await detail.locator('strong').textContent());
  expect(before).toBe(start); // the speech was paid, then refunded
  await detail.getByLabel(/Credits to add/).fill('25');
  await detail.getByLabel('Reason').fill('a support gesture');
  await detail.getByRole('button', { name: 'Adjust credits' }).click();
  await expect(detail.locator('strong')).toHaveText(String(before + 25));
  await detail.getByRole('button', { name: 'Disable the account' }).click();
  await expect(detail).toContainText('disabled');
  await expect(page.getByRole('row').filter({ hasText: customer.email })).toContainText('(disabled)');
  await checkPage(page, 'admin-users');

  // A disabled account cannot sign in; enabled again, it can.
  await signOut(page);
  await page.getByLabel('Email').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That email and password do not match an account.');
  await signIn(page, admin);
  await page.goto('/admin/users');
  await page.getByLabel('Search').fill(customer.email);
  await page.getByRole('button', { name: `Manage ${customer.email}` }).click();
  await page.getByRole('button', { name: 'Enable the account' }).click();
  await expect(page.getByRole('row').filter({ hasText: customer.email })).not.toContainText('(disabled)');

  // The price back as it was.
  await page.getByRole('link', { name: 'Configuration', exact: true }).click();
  await page.getByLabel('job_costs', { exact: true }).fill(JSON.stringify(costs));
  await page.getByRole('button', { name: 'Save job_costs' }).click();
  await expect(page.locator('form.config').filter({ has: page.getByLabel('job_costs', { exact: true }) }).getByRole('status')).toHaveText(/^Saved /);
});
