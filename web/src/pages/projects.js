// Projects with estimates, the expert marketplace, messages, deliverables, review
// and rating; and the expert's own area.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { Field, JobView, Notice, Pager, html, seconds, useAction, usePaged, when } from '../ui.js';
import { Uploader } from './voice.js';

export function Projects({ go }) {
  const [status, setStatus] = useState('');
  const list = usePaged(`/api/projects${status ? `?status=${status}` : ''}`);
  const a = useAction();
  const [f, setF] = useState({ name: '', description: '' });
  const create = (e) => {
    e.preventDefault();
    a.run(async () => { const p = await call('POST', '/api/projects', f); go(`/projects/${p.id}`); });
  };
  return html`<main><h1>Projects</h1>
    <form onSubmit=${create} novalidate>
      <${Field} label="Project name" value=${f.name} error=${a.fields.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />
      <${Field} label="Description" as="textarea" rows="3" value=${f.description} error=${a.fields.description} onInput=${(e) => setF({ ...f, description: e.target.value })} />
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Create the project</button></form>
    <${Field} label="Show" as="select" value=${status} onChange=${(e) => setStatus(e.target.value)}><option value="">All projects</option>
      ${['draft', 'estimating', 'ready', 'in_progress', 'review', 'completed', 'cancelled'].map((s) => html`<option value=${s}>${s}</option>`)}<//>
    <${Notice} error=${list.error} />
    <ul class="cards">${(list.data?.items || []).map((p) => html`<li key=${p.id} class="card"><h2><a href=${`/projects/${p.id}`}>${p.name}</a></h2>
      <p><span class=${`status ${p.status}`}>${p.status}</span>${p.unread ? ` · ${p.unread} unread` : ''} · ${when(p.updatedAt)}</p></li>`)}</ul>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </main>`;
}

export function Project({ user, path, go, refreshUser }) {
  const id = path.split('/')[2];
  const [p, setP] = useState(null);
  const [job, setJob] = useState(null);
  const a = useAction();
  const load = () => call('GET', `/api/projects/${id}`).then(setP).catch(a.setError);
  useEffect(() => { load(); }, [id]);
  if (!p) return html`<main><h1>Project</h1><${Notice} error=${a.error} /></main>`;
  const owner = p.expertId !== user.id;
  const act = (what, body) => a.run(async () => { setP(await call('POST', `/api/projects/${id}/${what}`, body)); refreshUser(); });
  const estimate = () => a.run(async () => { setJob(await call('POST', `/api/projects/${id}/estimate`)); load(); });
  return html`<main><h1>${p.name}</h1>
    <p><span class=${`status ${p.status}`}>${p.status}</span>${p.priceCredits != null ? ` · price ${p.priceCredits} credits` : ''}</p>
    ${p.description && html`<p>${p.description}</p>`}
    <${Notice} error=${a.error} />
    <section><h2>Audio</h2>
      <ul>${p.audios.map((x) => html`<li key=${x.id}>${x.filename} (${seconds(x.durationMs)}) <audio controls preload="none" src=${x.url} aria-label=${`Play ${x.filename}`}></audio>
        ${owner && p.status === 'draft' && html`<button type="button" class="danger" onClick=${() => a.run(async () => setP(await call('DELETE', `/api/projects/${id}/audios/${x.id}`)))}>Detach ${x.filename}</button>`}</li>`)}</ul>
      ${owner && ['draft', 'ready'].includes(p.status) && html`<${AttachAudio} onAttach=${(audioId) => a.run(async () => setP(await call('POST', `/api/projects/${id}/audios`, { audioId })))} />`}
    </section>
    ${owner && html`<section><h2>Estimate</h2>
      ${p.estimate ? html`<p>${(p.estimate.costCents / 100).toFixed(2)} · ${p.estimate.durationMinutes} minutes · ${p.estimate.method === 'ai' ? 'AI estimate' : 'rule-based estimate'}</p>
        <ul>${(p.estimate.breakdown || []).map((b) => html`<li>${b.task}: ${b.minutes} min, ${(b.costCents / 100).toFixed(2)}</li>`)}</ul>` : html`<p class="hint">No estimate yet.</p>`}
      ${p.status === 'draft' && html`<button type="button" onClick=${estimate}>Estimate the work</button>`}
      <${JobView} job=${job} onDone=${load} /></section>`}
    ${owner && p.status === 'ready' && html`<${AssignExpert} onAssign=${(expertId) => act('expert', { expertId })} />`}
    ${['in_progress', 'review', 'completed'].includes(p.status) && html`<${Deliverables} id=${id} canUpload=${!owner && p.status === 'in_progress'} />`}
    <section><h2>Actions</h2><div class="row">
      ${!owner && p.status === 'in_progress' && html`<button type="button" onClick=${() => act('submit')}>Submit for review</button>`}
      ${owner && p.status === 'review' && html`<button type="button" onClick=${() => act('accept')}>Accept the delivery</button>
        <${AskChanges} onAsk=${(message) => act('changes', { message })} />`}
      ${owner && !['completed', 'cancelled'].includes(p.status) && html`<button type="button" class="danger" onClick=${() => act('cancel')}>Cancel the project</button>`}
      ${owner && ['draft', 'cancelled'].includes(p.status) && html`<button type="button" class="danger" onClick=${() => a.run(async () => { await call('DELETE', `/api/projects/${id}`); go('/projects'); })}>Delete the project</button>`}
    </div>
    ${owner && p.status === 'completed' && html`<${Rate} id=${id} />`}</section>
    ${p.expertId && html`<${Messages} key=${p.status} id=${id} user=${user} />`}
    <${History} id=${id} />
  </main>`;
}

function AttachAudio({ onAttach }) {
  const [items, setItems] = useState([]);
  const [sel, setSel] = useState('');
  useEffect(() => { call('GET', '/api/audios?limit=100').then((d) => setItems(d.items)).catch(() => {}); }, []);
  return html`<${Uploader} what="an audio file for this project" onUploaded=${(x) => onAttach(x.id)} />
    <div class="row"><${Field} label="Or add one from your library" as="select" value=${sel} onChange=${(e) => setSel(e.target.value)}>
    <option value="">Choose</option>${items.map((x) => html`<option value=${x.id}>${x.filename}</option>`)}<//>
    <button type="button" disabled=${!sel} onClick=${() => onAttach(sel)}>Attach</button></div>`;
}

function AssignExpert({ onAssign }) {
  const [q, setQ] = useState({ specialty: '', language: '' });
  const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v));
  const list = usePaged(`/api/experts?${qs}`);
  const [known, setKnown] = useState([]);
  useEffect(() => { call('GET', '/api/experts/specialties').then((d) => setKnown(d.items.map((x) => x.id || x))).catch(() => {}); }, []);
  return html`<section><h2>Choose an expert</h2>
    <div class="row"><${Field} label="Specialty" as="select" value=${q.specialty} onChange=${(e) => setQ({ ...q, specialty: e.target.value })}>
        <option value="">Any</option>${known.map((k) => html`<option value=${k}>${k.replace(/_/g, ' ')}</option>`)}<//>
      <${Field} label="Language" value=${q.language} onInput=${(e) => setQ({ ...q, language: e.target.value })} /></div>
    <ul class="cards">${(list.data?.items || []).map((x) => html`<li key=${x.userId} class="card"><h3>${x.name}</h3>
      <p>${x.rating != null ? `★ ${Number(x.rating).toFixed(1)} (${x.ratingCount})` : 'no ratings yet'} · ${(x.hourlyRateCents / 100).toFixed(2)}/h · ${x.availability}</p>
      <p>${(x.specialties || []).join(', ')}</p>
      <button type="button" disabled=${x.availability === 'offline'} onClick=${() => onAssign(x.userId)}>Assign ${x.name}</button></li>`)}</ul>
  </section>`;
}

function Deliverables({ id, canUpload }) {
  const [items, setItems] = useState([]);
  const [sel, setSel] = useState('');
  const [mine, setMine] = useState([]);
  const a = useAction();
  const deliver = (audioId) => a.run(async () => { await call('POST', `/api/projects/${id}/deliverables`, { audioId }); load(); });
  const load = () => call('GET', `/api/projects/${id}/deliverables`).then((d) => setItems(d.items || d)).catch(a.setError);
  useEffect(() => { load(); if (canUpload) call('GET', '/api/audios?limit=100').then((d) => setMine(d.items)).catch(() => {}); }, [id]);
  return html`<section><h2>Deliverables</h2><${Notice} error=${a.error} />
    <ul>${items.map((d) => html`<li key=${d.id}>${d.filename} <audio controls preload="none" src=${d.url} aria-label=${`Play ${d.filename}`}></audio></li>`)}</ul>
    ${canUpload && html`<${Uploader} what="a finished audio file to deliver" onUploaded=${(x) => deliver(x.id)} />
      <div class="row"><${Field} label="Or deliver one from your library" as="select" value=${sel} onChange=${(e) => setSel(e.target.value)}>
      <option value="">Choose</option>${mine.map((x) => html`<option value=${x.id}>${x.filename}</option>`)}<//>
      <button type="button" disabled=${!sel} onClick=${() => deliver(sel)}>Deliver</button></div>`}
  </section>`;
}

function AskChanges({ onAsk }) {
  const [m, setM] = useState('');
  return html`<form class="row" onSubmit=${(e) => { e.preventDefault(); onAsk(m); }}>
    <${Field} label="What should change?" value=${m} onInput=${(e) => setM(e.target.value)} />
    <button type="submit" disabled=${!m.trim()}>Ask for changes</button></form>`;
}

function Rate({ id }) {
  const [stars, setStars] = useState(5);
  const [comment, setComment] = useState('');
  const [done, setDone] = useState(false);
  const a = useAction();
  if (done) return html`<${Notice} info="Thank you for your rating." />`;
  return html`<form onSubmit=${(e) => { e.preventDefault(); a.run(async () => { await call('POST', `/api/projects/${id}/rating`, { stars, comment }); setDone(true); }); }}>
    <${Field} label="Stars" as="select" value=${stars} onChange=${(e) => setStars(Number(e.target.value))}>${[5, 4, 3, 2, 1].map((s) => html`<option value=${s}>${s}</option>`)}<//>
    <${Field} label="Comment" as="textarea" rows="2" value=${comment} onInput=${(e) => setComment(e.target.value)} />
    <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Rate the expert</button></form>`;
}

function Messages({ id, user }) {
  const list = usePaged(`/api/projects/${id}/messages`);
  const [body, setBody] = useState('');
  const a = useAction();
  const send = (e) => { e.preventDefault(); a.run(async () => { await call('POST', `/api/projects/${id}/messages`, { body }); setBody(''); list.reload(); }); };
  return html`<section><h2>Messages</h2>
    <form onSubmit=${send} novalidate><${Field} label="Message" as="textarea" rows="2" value=${body} error=${a.fields.body} onInput=${(e) => setBody(e.target.value)} />
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy || !body.trim()}>Send</button></form>
    <ul class="messages">${(list.data?.items || []).map((m) => html`<li key=${m.id}><small>${m.authorId === user.id ? 'You' : 'They'} · ${when(m.createdAt)}</small><p>${m.body}</p></li>`)}</ul>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </section>`;
}

function History({ id }) {
  const [h, setH] = useState([]);
  useEffect(() => { call('GET', `/api/projects/${id}/history`).then((d) => setH(d.items || d)).catch(() => {}); }, [id]);
  return html`<section><h2>History</h2><ol>${h.map((x) => html`<li>${x.from || 'new'} → ${x.to} · ${when(x.at)}</li>`)}</ol></section>`;
}

export function ExpertArea({ user }) {
  const [f, setF] = useState(null);
  const a = useAction();
  const list = usePaged('/api/expert/projects');
  const [known, setKnown] = useState([]);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    call('GET', '/api/experts/specialties').then((d) => setKnown(d.items.map((x) => (typeof x === 'string' ? { id: x, name: x.replace(/_/g, ' ') } : x)))).catch(() => {});
    call('GET', `/api/experts/${user.id}`).then((x) => setF(x)).catch(() => setF({ name: user.name || '', bio: '', hourlyRateCents: 5000, specialties: [], languages: ['en'], availability: 'available' }));
  }, []);
  if (user.role !== 'expert') return html`<main><h1>Expert area</h1><${Notice} error="This area is for experts." /></main>`;
  if (!f) return html`<main><h1>Expert area</h1><p role="status">Loading…</p></main>`;
  const save = (e) => {
    e.preventDefault();
    setSaved(false);
    const body = { name: f.name, bio: f.bio || '', hourlyRateCents: f.hourlyRateCents, specialties: f.specialties || [], languages: f.languages || [], availability: f.availability };
    a.run(async () => { setF(await call('PUT', '/api/experts/me', body)); setSaved(true); });
  };
  const list2 = (k) => (e) => setF({ ...f, [k]: e.target.value.split(',').map((s) => s.trim()).filter(Boolean) });
  return html`<main><h1>Expert area</h1>
    <form onSubmit=${save} novalidate><h2>Your profile</h2>
      <${Field} label="Name" value=${f.name} error=${a.fields.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />
      <${Field} label="Bio" as="textarea" rows="3" value=${f.bio} error=${a.fields.bio} onInput=${(e) => setF({ ...f, bio: e.target.value })} />
      <div class="row"><${Field} label="Hourly rate (cents)" type="number" value=${f.hourlyRateCents} error=${a.fields.hourlyRateCents} onInput=${(e) => setF({ ...f, hourlyRateCents: Number(e.target.value) })} />
        <${Field} label="Availability" as="select" value=${f.availability} onChange=${(e) => setF({ ...f, availability: e.target.value })}><option>available</option><option>busy</option><option>offline</option><//></div>
      <fieldset class="checks"><legend>Specialties</legend>${known.map((k) => html`<label class="check" key=${k.id}><input type="checkbox" checked=${(f.specialties || []).includes(k.id)}
        onChange=${(e) => setF({ ...f, specialties: e.target.checked ? [...(f.specialties || []), k.id] : f.specialties.filter((x) => x !== k.id) })} /> ${k.name}</label>`)}
        ${a.fields.specialties && html`<small class="error" role="alert">${a.fields.specialties}</small>`}</fieldset>
      <${Field} label="Languages (comma separated)" value=${(f.languages || []).join(', ')} error=${a.fields.languages} onChange=${list2('languages')} />
      <${Notice} error=${a.error} info=${saved && 'Your profile is saved.'} /><button type="submit" disabled=${a.busy}>Save the profile</button></form>
    <section><h2>Assigned projects</h2><ul class="cards">${(list.data?.items || []).map((p) => html`<li key=${p.id} class="card"><h3><a href=${`/projects/${p.id}`}>${p.name}</a></h3><p><span class=${`status ${p.status}`}>${p.status}</span></p></li>`)}</ul></section>
  </main>`;
}
