// Signing up, out and in, and the errors a person sees on the way.
import { checkPage, expect, mailLink, newEmail, signIn, signUp, test } from './fixtures.mjs';

test('sign up, sign out, sign in again', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin$/);
  await checkPage(page, 'signin');
  await page.getByRole('link', { name: 'Create an account', exact: true }).click();
  await checkPage(page, 'signup');
  const { email, password } = await signUp(page);
  await expect(page.getByText(email)).toBeVisible();
  await expect(page.locator('.credits')).toHaveText(/\d+ credits/);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto('/tts'); // signed out: the studio sends you to sign in
  await expect(page).toHaveURL(/\/signin$/);

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/tts$/);
  await page.reload(); // the session survives a reload (cookies)
  await expect(page.getByRole('heading', { name: 'Text to speech' })).toBeVisible();
});

test('errors are shown next to their field, in words', async ({ page }) => {
  await page.goto('/signup');
  await page.getByLabel('Email').fill(newEmail('short'));
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  const pw = page.getByLabel('Password');
  await expect(pw).toHaveAttribute('aria-invalid', 'true');
  const msgId = await pw.getAttribute('aria-describedby');
  await expect(page.locator(`#${msgId}`)).toContainText(/10/);
  await expect(page.getByRole('alert').filter({ hasText: 'Please correct the highlighted fields.' })).toBeVisible();

  await page.goto('/signin');
  await page.getByLabel('Email').fill(newEmail('nobody'));
  await page.getByLabel('Password').fill('wrong password 123');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That email and password do not match an account.');
});

test('an expired access token is refreshed silently', async ({ page, context }) => {
  await signUp(page);
  // Drop the access cookie: the next call answers 401, the page refreshes with the
  // refresh cookie and carries on.
  const cookies = await context.cookies();
  await context.clearCookies();
  await context.addCookies(cookies.filter((c) => c.name !== 'rv_access'));
  await page.goto('/credits');
  await expect(page.getByRole('heading', { name: 'Credits' })).toBeVisible();
  await expect(page.getByText('Balance:')).toBeVisible();
  expect((await context.cookies()).some((c) => c.name === 'rv_access')).toBe(true);
});

test('verify the email from its mail, then reset a forgotten password', async ({ page }) => {
  const user = await signUp(page);
  await page.goto(await mailLink(user.email, 'verify'));
  await expect(page.getByRole('heading', { name: 'Verify your email' })).toBeVisible();
  await checkPage(page, 'verify');
  await page.getByRole('button', { name: 'Verify my email' }).click();
  await expect(page.getByRole('status')).toHaveText('Your email is verified. Thank you!');
  expect(await page.evaluate(() => fetch('/api/me').then((r) => r.json()).then((me) => me.emailVerified))).toBe(true);
  await page.getByRole('button', { name: 'Sign out' }).click();

  await page.goto('/signin');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await checkPage(page, 'forgot');
  const asked = Date.now() - 1000;
  await page.getByLabel('Email').fill(user.email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toHaveText('If an account has this email, a reset link is on its way.');
  await page.goto(await mailLink(user.email, 'reset', { after: asked }));
  await checkPage(page, 'reset');
  await page.getByLabel('New password').fill('short');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page.locator('.field .error')).toBeVisible(); // too short: said beside the field
  await page.getByLabel('New password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That email and password do not match an account.');
  await signIn(page, { email: user.email, password: 'a brand new passphrase' });
});
