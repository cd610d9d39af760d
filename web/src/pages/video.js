// The video studios: the clip studio (photos → clips → one compiled video with
// music) and the explainer wizard (topic → script → narration → images → video),
// with batches.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { Field, JobView, Notice, Pager, Progress, html, useAction, usePaged, when } from '../ui.js';
import { Uploader } from './voice.js';

const TRANSITIONS = ['none', 'fade', 'dissolve', 'wipe', 'slide'];

function useProject() {
  const [projects, setProjects] = useState([]);
  const [id, setId] = useState(new URLSearchParams(location.search).get('project') || '');
  const load = () => call('GET', '/api/projects?limit=100').then((d) => { setProjects(d.items); if (!id && d.items[0]) setId(d.items[0].id); }).catch(() => {});
  useEffect(() => { load(); }, []);
  return { projects, id, setId, load };
}

export function Clips({ refreshUser }) {
  const pr = useProject();
  const a = useAction();
  const [newName, setNewName] = useState('');
  const [tick, setTick] = useState(0);
  const [images, setImages] = useState([]);
  const [clips, setClips] = useState([]);
  const [drag, setDrag] = useState(null);
  const [job, setJob] = useState(null);
  const [comp, setComp] = useState({ transition: 'fade', musicTrackId: '', musicVolume: 40 });
  const [tracks, setTracks] = useState([]);
  const [result, setResult] = useState(null);
  useEffect(() => { call('GET', '/api/music-tracks').then((d) => setTracks(d.items)).catch(() => {}); }, []);
  useEffect(() => {
    if (!pr.id) return;
    call('GET', `/api/images?projectId=${pr.id}&limit=100`).then((d) => setImages(d.items)).catch(a.setError);
    call('GET', `/api/clips?projectId=${pr.id}&limit=100`).then((d) => setClips([...d.items].sort((x, y) => x.position - y.position))).catch(a.setError);
  }, [pr.id, tick]);
  // While a clip is rendering, look again now and then.
  useEffect(() => {
    if (!clips.some((c) => ['queued', 'dispatching', 'running'].includes(c.status))) return undefined;
    const t = setTimeout(() => setTick((x) => x + 1), 2000);
    return () => clearTimeout(t);
  }, [clips]);
  const create = (e) => { e.preventDefault(); a.run(async () => { const p = await call('POST', '/api/projects', { name: newName }); await pr.load(); pr.setId(p.id); setNewName(''); }); };
  const makeClip = (img, durationSeconds) => a.run(async () => {
    await call('POST', '/api/clips', { projectId: pr.id, imageId: img.id, durationSeconds }, { headers: { 'Idempotency-Key': crypto.randomUUID() } });
    setTick((x) => x + 1); refreshUser();
  });
  // The change shows at once; the list is read again whatever the server answered.
  const patch = (c, body) => {
    setClips((cs) => cs.map((x) => (x.id === c.id ? { ...x, ...body } : x)));
    a.run(async () => { try { await call('PATCH', `/api/clips/${c.id}`, body); } finally { setTick((x) => x + 1); } });
  };
  const move = (from, to) => {
    if (from === to) return;
    const next = [...clips];
    const [c] = next.splice(from, 1);
    next.splice(to, 0, c);
    setClips(next);
    a.run(async () => { for (let i = 0; i < next.length; i++) if (next[i].position !== i) await call('PATCH', `/api/clips/${next[i].id}`, { position: i }); setTick((x) => x + 1); });
  };
  const approved = clips.filter((c) => c.approved);
  const compile = (e) => {
    e.preventDefault();
    a.run(async () => {
      const body = { projectId: pr.id, clipIds: approved.map((c) => c.id), transition: comp.transition, musicVolume: comp.musicVolume };
      if (comp.musicTrackId) body.musicTrackId = comp.musicTrackId;
      const r = await call('POST', '/api/compilations', body, { headers: { 'Idempotency-Key': crypto.randomUUID() } });
      setResult(r.compilation); setJob(r.job); refreshUser();
    });
  };
  const done = async () => { if (result) setResult(await call('GET', `/api/compilations/${result.id}`)); refreshUser(); };
  return html`<main><h1>Clip studio</h1>
    <div class="row">
      <${Field} label="Project" as="select" value=${pr.id} onChange=${(e) => pr.setId(e.target.value)}>${pr.projects.map((p) => html`<option value=${p.id}>${p.name}</option>`)}<//>
      <form class="row" onSubmit=${create}><${Field} label="New project" value=${newName} onInput=${(e) => setNewName(e.target.value)} /><button type="submit" disabled=${!newName.trim()}>Create</button></form>
    </div>
    <${Notice} error=${a.error} />
    ${pr.id && html`<section><h2>Photos</h2>
      <${Uploader} path=${`/api/images?projectId=${pr.id}`} accept="image/jpeg,image/png,image/webp" what="a photo" onUploaded=${() => setTick((x) => x + 1)} />
      <ul class="cards">${images.map((img) => html`<li key=${img.id} class="card"><img src=${img.thumbnailUrl} alt=${img.filename} width="240" />
        <p>${img.filename} · ${img.width}×${img.height}</p>
        <button type="button" onClick=${() => makeClip(img, 5)}>Make a 5 s clip of ${img.filename}</button></li>`)}</ul></section>
    <section><h2>Clips</h2><p class="hint">Drag clips to reorder them; approve the ones to compile.</p>
      <ol class="clips">${clips.map((c, i) => html`<li key=${c.id} class="card" draggable="true" data-clip=${c.id}
          onDragStart=${() => setDrag(i)} onDragOver=${(e) => e.preventDefault()} onDrop=${(e) => { e.preventDefault(); if (drag != null) move(drag, i); setDrag(null); }}>
        <p><strong>Clip ${i + 1}</strong> · <span class=${`status ${c.status}`}>${c.status}</span></p>
        ${c.url ? html`<video controls preload="metadata" src=${c.url} poster=${c.posterUrl} aria-label=${`Clip ${i + 1}`}></video>` : html`<p class="hint">Rendering…</p>`}
        <label class="check"><input type="checkbox" checked=${c.approved} disabled=${c.status !== 'succeeded'} onChange=${(e) => patch(c, { approved: e.target.checked })} /> Approve clip ${i + 1}</label>
        <div class="row"><button type="button" disabled=${i === 0} onClick=${() => move(i, i - 1)}>Move clip ${i + 1} up</button>
          <button type="button" disabled=${i === clips.length - 1} onClick=${() => move(i, i + 1)}>Move clip ${i + 1} down</button></div>
      </li>`)}</ol></section>
    <section><h2>Compile</h2>
      <form onSubmit=${compile} novalidate><div class="row">
        <${Field} label="Transition" as="select" value=${comp.transition} error=${a.fields.transition} onChange=${(e) => setComp({ ...comp, transition: e.target.value })}>${TRANSITIONS.map((t) => html`<option>${t}</option>`)}<//>
        <${Field} label="Music" as="select" value=${comp.musicTrackId} error=${a.fields.musicTrackId} onChange=${(e) => setComp({ ...comp, musicTrackId: e.target.value })}><option value="">No music</option>${tracks.map((t) => html`<option value=${t.id}>${t.title}</option>`)}<//>
        <${Field} label=${`Music volume ${comp.musicVolume}`} type="range" min="0" max="100" value=${comp.musicVolume} onInput=${(e) => setComp({ ...comp, musicVolume: Number(e.target.value) })} /></div>
        <button type="submit" disabled=${a.busy || approved.length === 0}>Compile ${approved.length} approved clip${approved.length === 1 ? '' : 's'}</button></form>
      <${JobView} job=${job} onDone=${done} />
      ${result?.url && html`<figure class="result"><video controls src=${result.url} poster=${result.posterUrl} aria-label="Compiled video"></video>
        <figcaption><a href=${result.url} download="compilation.mp4">Download the video</a></figcaption></figure>`}
    </section>`}
  </main>`;
}

export function Videos({ go }) {
  const list = usePaged('/api/videos');
  const a = useAction();
  const [f, setF] = useState({ title: '', topic: '', targetSeconds: 60, auto: false });
  const create = (e) => { e.preventDefault(); a.run(async () => { const v = await call('POST', '/api/videos', f); go(`/videos/${v.id}`); }); };
  return html`<main><h1>Explainer videos</h1>
    <form onSubmit=${create} novalidate>
      <${Field} label="Title" value=${f.title} error=${a.fields.title} onInput=${(e) => setF({ ...f, title: e.target.value })} />
      <${Field} label="Topic" as="textarea" rows="2" value=${f.topic} error=${a.fields.topic} onInput=${(e) => setF({ ...f, topic: e.target.value })} />
      <${Field} label="Length (seconds)" type="number" min="15" max="600" value=${f.targetSeconds} error=${a.fields.targetSeconds} onInput=${(e) => setF({ ...f, targetSeconds: Number(e.target.value) })} />
      <label class="check"><input type="checkbox" checked=${f.auto} onChange=${(e) => setF({ ...f, auto: e.target.checked })} /> Make the whole video automatically</label>
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Start the video</button></form>
    <p><a href="/batches">Make a batch of videos</a></p>
    <ul class="cards">${(list.data?.items || []).map((v) => html`<li key=${v.id} class="card"><h2><a href=${`/videos/${v.id}`}>${v.title}</a></h2>
      <p><span class=${`status ${v.status}`}>${v.status}</span> · ${when(v.createdAt)}</p></li>`)}</ul>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </main>`;
}

const STEPS = ['scripting', 'narrating', 'imaging', 'rendering', 'ready'];

export function Video({ path, refreshUser }) {
  const id = path.split('/')[2];
  const [v, setV] = useState(null);
  const [job, setJob] = useState(null);
  const [sections, setSections] = useState(null);
  const [voices, setVoices] = useState([]);
  const [voiceId, setVoiceId] = useState('');
  const [render, setRender] = useState({ transition: 'fade', captions: 'burned', resolution: '720p', aspect: '16:9' });
  const a = useAction();
  // The editor holds the server's sections until the person edits them; a step that
  // writes the script (the AI, a chain) replaces what is unedited.
  const [edited, setEdited] = useState(false);
  const fromServer = (x) => (x.sections || []).map((y) => ({ heading: y.heading || '', content: y.content }));
  const load = () => call('GET', `/api/videos/${id}`).then((x) => { setV(x); setSections((s) => (edited && s ? s : fromServer(x))); }).catch(a.setError);
  useEffect(() => { load(); call('GET', '/api/voices?limit=100').then((d) => { const act = d.items.filter((x) => x.status === 'active'); setVoices(act); setVoiceId(act[0]?.id || ''); }).catch(() => {}); }, [id]);
  // A chain runs on its own: follow it while it is not done.
  useEffect(() => {
    if (!v || ['draft', 'ready', 'failed'].includes(v.status)) return undefined;
    const t = setTimeout(load, 2000);
    return () => clearTimeout(t);
  }, [v]);
  if (!v) return html`<main><h1>Video</h1><${Notice} error=${a.error} /></main>`;
  const step = (what, body) => a.run(async () => { setJob(await call('POST', `/api/videos/${id}/${what}`, body)); refreshUser(); });
  const saveScript = () => a.run(async () => { setV(await call('PUT', `/api/videos/${id}/script`, { sections: sections.map((s) => (s.heading ? s : { content: s.content })) })); setEdited(false); });
  const sec = sections || [];
  const setSec = (i, k) => (e) => { setEdited(true); setSections(sec.map((s, j) => (j === i ? { ...s, [k]: e.target.value } : s))); };
  return html`<main><h1>${v.title}</h1>
    <ol class="steps" aria-label="Steps">${STEPS.map((s) => html`<li aria-current=${v.status === s ? 'step' : undefined} class=${STEPS.indexOf(s) < STEPS.indexOf(v.status) ? 'done' : ''}>${s}</li>`)}</ol>
    ${!['draft', 'ready', 'failed'].includes(v.status) && html`<${Progress} value=${v.progress || 0} label="Video progress" />`}
    ${v.error && html`<${Notice} error=${v.error.message || String(v.error)} />`}
    <${Notice} error=${a.error} />
    <section><h2>Script</h2>
      ${sec.map((s, i) => html`<fieldset key=${i}><legend>Section ${i + 1}</legend>
        <${Field} label=${`Heading ${i + 1}`} value=${s.heading} onInput=${setSec(i, 'heading')} error=${a.fields[`sections[${i}].heading`]} />
        <${Field} label=${`Text ${i + 1}`} as="textarea" rows="3" value=${s.content} onInput=${setSec(i, 'content')} error=${a.fields[`sections[${i}].content`]} /></fieldset>`)}
      <div class="row"><button type="button" onClick=${() => { setEdited(true); setSections([...sec, { heading: '', content: '' }]); }}>Add a section</button>
        <button type="button" disabled=${!sec.length} onClick=${saveScript}>Save the script</button>
        <button type="button" onClick=${() => step('script')}>Write it with AI</button></div></section>
    <section><h2>Narration</h2><div class="row">
      <${Field} label="Narrator" as="select" value=${voiceId} onChange=${(e) => setVoiceId(e.target.value)}>${voices.map((x) => html`<option value=${x.id}>${x.name}</option>`)}<//>
      <button type="button" onClick=${() => step('narration', { voiceId })}>Narrate</button></div></section>
    <section><h2>Images</h2><button type="button" onClick=${() => step('images')}>Find images</button>
      <ul class="cards">${(v.images || []).map((im) => html`<li key=${im.position} class="card"><img src=${im.url} alt=${im.prompt || `Image ${im.position + 1}`} width="240" />
        <p>${(im.startMs / 1000).toFixed(1)} s, ${(im.durationMs / 1000).toFixed(1)} s${im.attribution ? html` · <a href=${im.attribution.url || im.attribution.link} rel="noopener">${im.attribution.name || im.attribution.photographer || 'source'}</a>` : ''}</p></li>`)}</ul></section>
    <section><h2>Render</h2><div class="row">
      <${Field} label="Transition" as="select" value=${render.transition} onChange=${(e) => setRender({ ...render, transition: e.target.value })}>${TRANSITIONS.map((t) => html`<option>${t}</option>`)}<//>
      <${Field} label="Captions" as="select" value=${render.captions} onChange=${(e) => setRender({ ...render, captions: e.target.value })}><option>burned</option><option>sidecar</option><option>none</option><//>
      <${Field} label="Resolution" as="select" value=${render.resolution} onChange=${(e) => setRender({ ...render, resolution: e.target.value })}><option>720p</option><option>1080p</option><//>
      <${Field} label="Aspect" as="select" value=${render.aspect} onChange=${(e) => setRender({ ...render, aspect: e.target.value })}><option>16:9</option><option>9:16</option><option>1:1</option><//></div>
      <button type="button" onClick=${() => step('render', render)}>Render the video</button></section>
    <${JobView} job=${job} onDone=${load} />
    ${v.url && html`<figure class="result"><video controls src=${v.url} poster=${v.posterUrl} aria-label="Rendered video"><track kind="captions" src=${`/api/videos/${id}/captions.vtt`} srclang="en" label="Captions" /></video>
      <figcaption><a href=${v.url} download=${`${v.title}.mp4`}>Download the video</a></figcaption></figure>`}
  </main>`;
}

export function Batches({ refreshUser }) {
  const [f, setF] = useState({ topics: '', voiceId: '' });
  const [voices, setVoices] = useState([]);
  const [batch, setBatch] = useState(null);
  const a = useAction();
  useEffect(() => { call('GET', '/api/voices?limit=100').then((d) => { const act = d.items.filter((x) => x.status === 'active'); setVoices(act); setF((o) => ({ ...o, voiceId: act[0]?.id || '' })); }).catch(() => {}); }, []);
  useEffect(() => {
    if (!batch || ['completed', 'cancelled', 'failed', 'done'].includes(batch.status)) return undefined;
    const t = setTimeout(() => call('GET', `/api/batches/${batch.id}`).then(setBatch).catch(a.setError), 2000);
    return () => clearTimeout(t);
  }, [batch]);
  const start = (e) => {
    e.preventDefault();
    a.run(async () => { setBatch(await call('POST', '/api/batches', { topics: f.topics.split('\n').map((t) => t.trim()).filter(Boolean), voiceId: f.voiceId })); refreshUser(); });
  };
  return html`<main><h1>Batches</h1>
    <form onSubmit=${start} novalidate>
      <${Field} label="Topics, one per line (up to 20)" as="textarea" rows="6" value=${f.topics} error=${a.fields.topics} onInput=${(e) => setF({ ...f, topics: e.target.value })} />
      <${Field} label="Narrator" as="select" value=${f.voiceId} error=${a.fields.voiceId} onChange=${(e) => setF({ ...f, voiceId: e.target.value })}>${voices.map((x) => html`<option value=${x.id}>${x.name}</option>`)}<//>
      <${Notice} error=${a.error} /><button type="submit" disabled=${a.busy}>Start the batch</button></form>
    ${batch && html`<section aria-label="Batch"><h2>Batch · <span class=${`status ${batch.status}`}>${batch.status}</span></h2>
      <${Progress} value=${batch.progress || 0} label="Batch progress" />
      <ul>${(batch.videos || []).map((v) => html`<li key=${v.id}><a href=${`/videos/${v.id}`}>${v.title}</a> · ${v.status} ${v.progress != null ? `${v.progress}%` : ''}</li>`)}</ul>
      <button type="button" class="danger" onClick=${() => a.run(async () => { await call('DELETE', `/api/batches/${batch.id}`); setBatch(await call('GET', `/api/batches/${batch.id}`)); refreshUser(); })}>Cancel the batch</button></section>`}
  </main>`;
}
