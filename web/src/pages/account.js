// Signing up and in, the email pages, and the credits ledger.
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { Field, Notice, Pager, html, useAction, usePaged, when } from '../ui.js';
import { PaymentStatus } from './money.js';

export function SignIn({ onUser, go }) {
  const a = useAction();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => {
      await call('POST', '/api/auth/login', { email, password });
      onUser(await call('GET', '/api/me'));
      go('/tts');
    });
  };
  return html`<main class="narrow"><h1>Sign in</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} label="Email" type="email" autocomplete="email" value=${email} onInput=${(e) => setEmail(e.target.value)} error=${a.fields.email} required />
      <${Field} label="Password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} error=${a.fields.password} required />
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy}>Sign in</button>
    </form>
    <p>New here? <a href="/signup">Create an account</a> · <a href="/forgot">Forgot your password?</a></p>
  </main>`;
}

export function SignUp({ onUser, go }) {
  const a = useAction();
  const [f, setF] = useState({ name: '', email: '', password: '', referralCode: new URLSearchParams(location.search).get('ref') || '' });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => {
      const body = { email: f.email, password: f.password };
      if (f.name) body.name = f.name;
      if (f.referralCode) body.referralCode = f.referralCode;
      await call('POST', '/api/auth/register', body);
      onUser(await call('GET', '/api/me'));
      go('/tts');
    });
  };
  return html`<main class="narrow"><h1>Create your account</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} label="Name (optional)" autocomplete="name" value=${f.name} onInput=${set('name')} error=${a.fields.name} />
      <${Field} label="Email" type="email" autocomplete="email" value=${f.email} onInput=${set('email')} error=${a.fields.email} required />
      <${Field} label="Password" type="password" autocomplete="new-password" hint="10 to 128 characters" value=${f.password} onInput=${set('password')} error=${a.fields.password} required />
      <${Field} label="Referral code (optional)" value=${f.referralCode} onInput=${set('referralCode')} error=${a.fields.referralCode} />
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy}>Create account</button>
    </form>
    <p>Already have an account? <a href="/signin">Sign in</a></p>
  </main>`;
}

const tokenParam = () => new URLSearchParams(location.search).get('token') || '';

export function Verify() {
  const a = useAction();
  const [done, setDone] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => { await call('POST', '/api/auth/verify', { token: tokenParam() }); setDone(true); });
  };
  return html`<main class="narrow"><h1>Verify your email</h1>
    ${done ? html`<${Notice} info="Your email is verified. Thank you!" />`
    : html`<form onSubmit=${submit}><${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Verify my email</button></form>`}
  </main>`;
}

export function Forgot() {
  const a = useAction();
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => { await call('POST', '/api/auth/forgot', { email }); setSent(true); });
  };
  return html`<main class="narrow"><h1>Reset your password</h1>
    ${sent ? html`<${Notice} info="If an account has this email, a reset link is on its way." />`
    : html`<form onSubmit=${submit} novalidate>
      <${Field} label="Email" type="email" autocomplete="email" value=${email} onInput=${(e) => setEmail(e.target.value)} error=${a.fields.email} />
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Send the link</button></form>`}
  </main>`;
}

export function Reset({ go }) {
  const a = useAction();
  const [pw, setPw] = useState('');
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => { await call('POST', '/api/auth/reset', { token: tokenParam(), newPassword: pw }); go('/signin'); });
  };
  return html`<main class="narrow"><h1>Choose a new password</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} label="New password" type="password" autocomplete="new-password" hint="10 to 128 characters" value=${pw} onInput=${(e) => setPw(e.target.value)} error=${a.fields.newPassword} />
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Save the password</button>
    </form></main>`;
}

export function Credits({ user, refreshUser }) {
  const { data, error, setPage, reload } = usePaged('/api/credits');
  const q = new URLSearchParams(location.search);
  const payment = q.get('payment');
  return html`<main><h1>Credits</h1>
    ${payment && html`<${PaymentStatus} id=${payment} cancelled=${q.get('checkout') === 'cancel'} onSettled=${() => { refreshUser(); reload(); }} />`}
    <p class="balance">Balance: <strong>${data ? data.balance : user.credits}</strong> credits</p>
    <p>Your referral code: <code>${user.referralCode}</code></p>
    <${Notice} error=${error} />
    ${data && html`<table><caption>Ledger</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col">Kind</th><th scope="col">Reason</th></tr></thead>
      <tbody>${data.items.map((l) => html`<tr key=${l.id}><td>${when(l.createdAt)}</td><td class=${l.delta > 0 ? 'plus' : 'minus'}>${l.delta > 0 ? '+' : ''}${l.delta}</td><td>${l.kind}</td><td>${l.reason}</td></tr>`)}</tbody>
    </table><${Pager} pagination=${data.pagination} setPage=${setPage} />`}
  </main>`;
}
