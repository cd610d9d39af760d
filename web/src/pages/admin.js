// The admin console: configuration, users, jobs, stats and the audit log.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { Field, Notice, Pager, html, label, useAction, usePaged, when } from '../ui.js';

const TABS = [['/admin', 'Overview'], ['/admin/config', 'Configuration'], ['/admin/users', 'Users'], ['/admin/jobs', 'Jobs'], ['/admin/audit', 'Audit log']];

export function Admin({ user, path }) {
  if (user.role !== 'admin') return html`<main><h1>Admin</h1><${Notice} error="This area is for administrators." /></main>`;
  const sub = path.replace(/\/$/, '');
  const Page = { '/admin': Stats, '/admin/config': Config, '/admin/users': Users, '/admin/jobs': Jobs, '/admin/audit': Audit }[sub] || Stats;
  return html`<main><h1>Admin</h1>
    <nav class="tabs" aria-label="Admin">${TABS.map(([to, t]) => html`<a href=${to} aria-current=${sub === to ? 'page' : undefined}>${t}</a>`)}</nav>
    <${Page} /></main>`;
}

function Bars({ title, data }) {
  const entries = Object.entries(data || {});
  const max = Math.max(1, ...entries.map(([, v]) => Number(v) || 0));
  return html`<figure class="bars"><figcaption>${title}</figcaption>
    ${entries.length === 0 ? html`<p class="hint">Nothing yet.</p>` : html`<svg role="img" aria-label=${title} viewBox=${`0 0 400 ${entries.length * 22}`} width="100%">
      ${entries.map(([k, v], i) => html`<g transform=${`translate(0 ${i * 22})`}>
        <text x="0" y="15" font-size="12">${k}</text>
        <rect x="180" y="3" height="14" width=${(150 * (Number(v) || 0)) / max} fill="#5b4bd6"></rect>
        <text x=${186 + (150 * (Number(v) || 0)) / max} y="15" font-size="12">${v}</text></g>`)}
    </svg>`}</figure>`;
}

// Flattens {kind: {status: n}} into "kind status" → n for a bar chart.
const flat = (o, sep = ' ') => Object.fromEntries(Object.entries(o || {}).flatMap(([k, v]) => (v && typeof v === 'object' ? Object.entries(v).map(([k2, v2]) => [`${k}${sep}${k2}`, v2]) : [[k, v]])));

function Stats() {
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { call('GET', '/api/admin/stats').then(setS).catch(setError); }, []);
  if (error) return html`<${Notice} error=${error} />`;
  if (!s) return html`<p role="status">Loading…</p>`;
  const scalars = Object.entries(s).filter(([, v]) => typeof v !== 'object' || v === null);
  return html`<section aria-label="Overview">
    <dl class="stats">${scalars.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v ?? '—'}</dd></div>`)}</dl>
    ${Object.entries(s).filter(([, v]) => v && typeof v === 'object').map(([k, v]) => html`<${Bars} title=${k} data=${Array.isArray(v) ? Object.fromEntries(v.map((x, i) => [x.name || x.kind || x.provider || i, x.jobs ?? x.count ?? x.value ?? 0])) : flat(v)} />`)}
  </section>`;
}

function Config() {
  const [items, setItems] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => { call('GET', '/api/admin/config').then((d) => setItems(d.items)).catch(setError); }, []);
  return html`<section aria-label="Configuration"><${Notice} error=${error} />
    ${items.map((it) => html`<${ConfigKey} key=${it.key} item=${it} />`)}</section>`;
}

function ConfigKey({ item }) {
  const [text, setText] = useState(JSON.stringify(item.value, null, 2));
  const [saved, setSaved] = useState(null);
  const a = useAction();
  const save = (e) => {
    e.preventDefault();
    setSaved(null);
    let value;
    try { value = JSON.parse(text); } catch { a.setError(`${item.key}: not valid JSON`); return; }
    a.run(async () => { const r = await call('PUT', `/api/admin/config/${item.key}`, { value }); setText(JSON.stringify(r.value, null, 2)); setSaved(`Saved ${when(r.updatedAt)}`); });
  };
  const fieldErrors = Object.entries(a.fields);
  return html`<form class="config" onSubmit=${save} novalidate>
    <${Field} as="textarea" label=${item.key} rows=${Math.min(14, text.split('\n').length + 1)} value=${text} spellcheck="false"
      onInput=${(e) => setText(e.target.value)} error=${fieldErrors.length ? fieldErrors.map(([f, m]) => `${f}: ${m}`).join('; ') : undefined} />
    <${Notice} error=${fieldErrors.length ? null : a.error} info=${saved} />
    <button type="submit" disabled=${a.busy}>Save ${item.key}</button></form>`;
}

function Users() {
  const [q, setQ] = useState('');
  const [role, setRole] = useState('');
  const qs = new URLSearchParams();
  if (q) qs.set('q', q);
  if (role) qs.set('role', role);
  const list = usePaged(`/api/admin/users?${qs}`);
  const [open, setOpen] = useState(null);
  return html`<section aria-label="Users">
    <div class="row"><${Field} label="Search" type="search" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <${Field} label="Role" as="select" value=${role} onChange=${(e) => setRole(e.target.value)}><option value="">All</option><option>user</option><option>expert</option><option>admin</option><//></div>
    <${Notice} error=${list.error} />
    <table><caption>Users</caption><thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Credits</th><th scope="col">Joined</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${(list.data?.items || []).map((u) => html`<tr key=${u.id}><td>${u.email}</td><td>${u.role}${u.disabled ? ' (disabled)' : ''}</td><td>${u.credits}</td><td>${when(u.createdAt)}</td>
        <td><button type="button" onClick=${() => setOpen(u.id)}>Manage ${u.email}</button></td></tr>`)}</tbody></table>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
    ${open && html`<${UserDetail} id=${open} onChange=${list.reload} />`}
  </section>`;
}

function UserDetail({ id, onChange }) {
  const [u, setU] = useState(null);
  const [grant, setGrant] = useState({ delta: 10, reason: '' });
  const a = useAction();
  const load = () => call('GET', `/api/admin/users/${id}`).then(setU).catch(a.setError);
  useEffect(() => { load(); }, [id]);
  const patch = (body) => a.run(async () => { await call('PATCH', `/api/admin/users/${id}`, body); await load(); onChange(); });
  const give = (e) => { e.preventDefault(); a.run(async () => { await call('POST', `/api/admin/users/${id}/credits`, grant); await load(); onChange(); }); };
  if (!u) return html`<${Notice} error=${a.error} />`;
  const who = u.user || u;
  return html`<section class="card" aria-label=${`User ${who.email}`}><h2>${who.email}</h2>
    <p>Balance: <strong>${u.balance ?? who.credits}</strong> · role ${who.role}${who.disabled ? ' · disabled' : ''}</p>
    <div class="row">
      <${Field} label="Role" as="select" value=${who.role} onChange=${(e) => patch({ role: e.target.value })}><option>user</option><option>expert</option><option>admin</option><//>
      <button type="button" onClick=${() => patch({ disabled: !who.disabled })}>${who.disabled ? 'Enable' : 'Disable'} the account</button>
    </div>
    <form onSubmit=${give} novalidate><div class="row">
      <${Field} label="Credits to add (negative to remove)" type="number" value=${grant.delta} error=${a.fields.delta} onInput=${(e) => setGrant({ ...grant, delta: Number(e.target.value) })} />
      <${Field} label="Reason" value=${grant.reason} error=${a.fields.reason} onInput=${(e) => setGrant({ ...grant, reason: e.target.value })} /></div>
      <button type="submit" disabled=${a.busy}>Adjust credits</button></form>
    <${Notice} error=${a.error} />
  </section>`;
}

function Jobs() {
  const [status, setStatus] = useState('');
  const [kind, setKind] = useState('');
  const qs = new URLSearchParams();
  if (status) qs.set('status', status);
  if (kind) qs.set('kind', kind);
  const list = usePaged(`/api/admin/jobs?${qs}`);
  const a = useAction();
  const [done, setDone] = useState(null);
  const act = (j, what) => {
    setDone(null);
    a.run(async () => {
      const r = await call('POST', `/api/admin/jobs/${j.id}/${what}`);
      setDone(what === 'refund' ? `Refunded: ${r.delta} credit${r.delta === 1 ? '' : 's'} went back to the user.` : `Retried as a new job (${r.status}).`);
      list.reload();
    });
  };
  return html`<section aria-label="Jobs">
    <div class="row"><${Field} label="Status" as="select" value=${status} onChange=${(e) => setStatus(e.target.value)}><option value="">All</option>${['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => html`<option>${s}</option>`)}<//>
      <${Field} label="Kind" as="select" value=${kind} onChange=${(e) => setKind(e.target.value)}><option value="">All</option>${['tts', 'voice_clone', 'voice_conversion', 'sfx', 'video_clip', 'video_compile', 'script', 'narration', 'images', 'video_render', 'estimate'].map((k) => html`<option value=${k}>${label(k)}</option>`)}<//></div>
    <${Notice} error=${a.error || list.error} info=${done} />
    <table><caption>Jobs</caption><thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Provider</th><th scope="col">Status</th><th scope="col">Error</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${(list.data?.items || []).map((j) => html`<tr key=${j.id}><td>${when(j.createdAt)}</td><td>${label(j.kind)}</td><td>${j.provider}</td><td><span class=${`status ${j.status}`}>${j.status}</span></td><td>${j.error?.message || ''}</td>
        <td>${j.status === 'failed' && html`<button type="button" onClick=${() => act(j, 'retry')}>Retry</button>`}
            ${['succeeded', 'failed'].includes(j.status) && html` <button type="button" class="danger" onClick=${() => act(j, 'refund')}>Refund</button>`}</td></tr>`)}</tbody></table>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </section>`;
}

function Audit() {
  const list = usePaged('/api/admin/audit');
  return html`<section aria-label="Audit log"><${Notice} error=${list.error} />
    <table><caption>Changes</caption><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Change</th></tr></thead>
      <tbody>${(list.data?.items || []).map((x) => html`<tr key=${x.id}><td>${when(x.createdAt || x.at)}</td><td>${x.actorEmail || x.actorId || x.by || ''}</td><td>${x.action || ''} ${x.target || x.key || ''}</td>
        <td><details><summary>Show</summary><pre>${JSON.stringify({ old: x.old ?? x.oldValue, new: x.new ?? x.newValue }, null, 2)}</pre></details></td></tr>`)}</tbody></table>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </section>`;
}
