// Money as a person uses it: a credit pack bought through the Stripe simulator's
// checkout page (redirect there and back; the page confirms only what the server
// does), the payments list, a provider key added (checked with the Replicate
// simulator) and removed.
import { checkPage, expect, signUp, test } from './fixtures.mjs';

test('buy credits through checkout, see the payment, add and remove a provider key', async ({ page, request }) => {
  await signUp(page);
  const balance = Number((await page.locator('.credits').textContent()).match(/\d+/)[0]);
  await page.getByRole('link', { name: 'Buy credits', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Buy credits' })).toBeVisible();
  const card = page.locator('.cards .card').first();
  await expect(card).toBeVisible();
  await checkPage(page, 'checkout');
  const credits = Number(await card.locator('strong').textContent());
  await card.getByRole('button', { name: /^Buy / }).click();

  // The simulator's hosted page (another origin): pay there.
  await expect(page.getByRole('heading', { name: 'Stripe simulator checkout' })).toBeVisible();
  await page.getByRole('button', { name: /^Pay / }).click();
  await expect(page).toHaveURL(/\/credits\?payment=[0-9a-f-]+&checkout=success$/);
  await expect(page.getByRole('status').filter({ hasText: 'Payment confirmed' })).toHaveText(`Payment confirmed: ${credits} credits were added.`, { timeout: 30_000 });
  await expect(page.locator('.credits')).toHaveText(`${balance + credits} credits`);
  await expect(page.getByRole('cell', { name: 'purchase', exact: true })).toBeVisible();
  await checkPage(page, 'checkout-done');

  // A second checkout left without paying: nothing is added.
  await page.goto('/checkout');
  await page.locator('.cards .card').first().getByRole('button', { name: /^Buy / }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(/checkout=cancel$/);
  await expect(page.getByRole('status').filter({ hasText: 'without paying' })).toBeVisible();
  await expect(page.locator('.credits')).toHaveText(`${balance + credits} credits`);

  await page.goto('/payments');
  await expect(page.getByRole('cell', { name: 'paid', exact: true })).toHaveCount(1);
  await checkPage(page, 'payments');

  await page.goto('/keys');
  await page.getByLabel('Service').selectOption('replicate');
  // A key the provider does not know is refused with a reason; one it knows is stored.
  await page.getByLabel('API key').fill('r8_nobody_knows_this_key');
  await page.getByRole('button', { name: 'Add the key' }).click();
  await expect(page.getByRole('alert')).toHaveText('the provider refused this key');
  const known = `r8_web${Date.now()}cdef`;
  const sim = await request.post(`${process.env.RV_SIM_URL}/_sim/tokens`, { data: { token: known, active: true } });
  expect(sim.ok()).toBe(true);
  await page.getByLabel('API key').fill(known);
  await page.getByRole('button', { name: 'Add the key' }).click();
  const key = page.locator('.cards .card').filter({ hasText: 'replicate' });
  await expect(key).toContainText('…cdef');
  await expect(page.getByLabel('API key')).toHaveValue('');
  await checkPage(page, 'keys');
  await key.getByRole('button', { name: 'Remove the replicate key' }).click();
  await expect(key).toHaveCount(0);
});
