// Buying credits (Stripe Checkout, redirect and back), payments, and the user's own
// provider keys.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { Field, Notice, Pager, html, useAction, usePaged, when } from '../ui.js';

const money = (cents, cur) => new Intl.NumberFormat(undefined, { style: 'currency', currency: (cur || 'usd').toUpperCase() }).format(cents / 100);

export function Buy() {
  const [packs, setPacks] = useState(null);
  const a = useAction();
  useEffect(() => { call('GET', '/api/credit-packs').then((d) => setPacks(d.items)).catch(a.setError); }, []);
  const buy = (p) => a.run(async () => {
    const r = await call('POST', '/api/checkout', { packId: p.id }, { headers: { 'Idempotency-Key': crypto.randomUUID() } });
    location.assign(r.checkoutUrl); // Stripe's page; it sends the buyer back to /credits?payment=…
  });
  return html`<main><h1>Buy credits</h1>
    <${Notice} error=${a.error} />
    <ul class="cards">${(packs || []).map((p) => html`<li key=${p.id} class="card">
      <h2>${p.name}</h2><p><strong>${p.credits}</strong> credits · ${money(p.priceCents, p.currency)}</p>
      <button type="button" disabled=${a.busy} onClick=${() => buy(p)}>Buy ${p.name}</button></li>`)}</ul>
    <p><a href="/payments">Your payments</a></p>
  </main>`;
}

// Back from Stripe: Stripe sends the buyer to /credits?payment=ID&checkout=success
// (or =cancel; common/stripe.c). Says only what the server confirms (the payment's
// status) and keeps asking, with backoff, while the payment is pending (the webhook
// may not have arrived yet). onSettled runs once it is no longer pending.
export function PaymentStatus({ id, cancelled, onSettled }) {
  const [pay, setPay] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stop = false;
    let delay = 800;
    const look = async () => {
      try {
        const d = await call('GET', '/api/payments?limit=20');
        const p = d.items.find((x) => x.id === id) || null;
        if (stop) return;
        setPay(p);
        if (p && p.status !== 'pending') { onSettled?.(p); return; }
        if (cancelled) return; // nothing will happen to it now
      } catch (e) { if (!stop) setError(e); return; }
      delay = Math.min(5000, delay * 1.5);
      if (!stop) setTimeout(look, delay);
    };
    look();
    return () => { stop = true; };
  }, [id]);
  return html`<section class="purchase" aria-label="Your purchase"><h2>Your purchase</h2>
    <${Notice} error=${error} />
    ${!pay && !error && html`<p role="status">Looking up your payment…</p>`}
    ${pay?.status === 'pending' && cancelled && html`<p role="status">You left the checkout without paying: no credits were added.</p>`}
    ${pay?.status === 'pending' && !cancelled && html`<p role="status">Waiting for the payment to be confirmed…</p>`}
    ${pay?.status === 'paid' && html`<${Notice} info=${`Payment confirmed: ${pay.credits} credits were added.`} />`}
    ${pay && !['pending', 'paid'].includes(pay.status) && html`<${Notice} error=${`The payment is ${pay.status}; no credits were added.`} />`}
  </section>`;
}

// /checkout/done?payment=ID: the same confirmation on a page of its own.
export function CheckoutDone({ refreshUser }) {
  const q = new URLSearchParams(location.search);
  return html`<main><h1>Your purchase</h1>
    <${PaymentStatus} id=${q.get('payment')} cancelled=${q.get('checkout') === 'cancel'} onSettled=${refreshUser} />
    <p><a href="/credits">See your credits</a></p>
  </main>`;
}

export function Payments() {
  const list = usePaged('/api/payments');
  return html`<main><h1>Payments</h1>
    <${Notice} error=${list.error} />
    <table><caption>Your payments</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Credits</th><th scope="col">Amount</th><th scope="col">Status</th></tr></thead>
      <tbody>${(list.data?.items || []).map((p) => html`<tr key=${p.id}><td>${when(p.createdAt)}</td><td>${p.credits}</td><td>${money(p.amountCents, p.currency)}</td><td><span class=${`status ${p.status}`}>${p.status}</span></td></tr>`)}</tbody>
    </table>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
    <p><a href="/checkout">Buy credits</a></p>
  </main>`;
}

export function Keys() {
  const [items, setItems] = useState([]);
  const [f, setF] = useState({ service: 'replicate', key: '' });
  const a = useAction();
  const load = () => call('GET', '/api/api-keys').then((d) => setItems(d.items || d)).catch(a.setError);
  useEffect(() => { load(); }, []);
  const add = (e) => {
    e.preventDefault();
    a.run(async () => { await call('POST', '/api/api-keys', f); setF({ ...f, key: '' }); load(); });
  };
  const remove = (k) => a.run(async () => { await call('DELETE', `/api/api-keys/${k.id}`); load(); });
  return html`<main><h1>Your provider keys</h1>
    <p>Jobs run with your own key cost no Reelvox credits (or a small fee). Keys are stored encrypted and never shown again.</p>
    <form onSubmit=${add} novalidate>
      <div class="row">
        <${Field} label="Service" as="select" value=${f.service} error=${a.fields.service} onChange=${(e) => setF({ ...f, service: e.target.value })}>
          <option value="replicate">Replicate</option><option value="runway">Runway</option><option value="openai">OpenAI</option><//>
        <${Field} label="API key" type="password" autocomplete="off" value=${f.key} error=${a.fields.key} onInput=${(e) => setF({ ...f, key: e.target.value })} />
      </div>
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy || !f.key}>Add the key</button>
    </form>
    <ul class="cards">${items.map((k) => html`<li key=${k.id} class="card"><h2>${k.service}</h2>
      <p>…${k.last4} · ${k.isActive ? 'active' : 'inactive'} · added ${when(k.createdAt)}</p>
      <button type="button" class="danger" onClick=${() => remove(k)}>Remove the ${k.service} key</button></li>`)}</ul>
  </main>`;
}
