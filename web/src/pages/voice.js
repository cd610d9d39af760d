// The voice studio: text to speech, the voice lab, voice conversion, sound effects,
// the history of jobs and the audio library.
import { useEffect, useState } from 'preact/hooks';
import { call, upload } from '../api.js';
import { Field, JobView, Notice, Pager, Player, Progress, html, label, seconds, useAction, usePaged, when } from '../ui.js';

const EMOTIONS = ['auto', 'neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

function useVoices(activeOnly) {
  const [voices, setVoices] = useState([]);
  useEffect(() => {
    call('GET', '/api/voices?limit=100').then((d) => setVoices(activeOnly ? d.items.filter((v) => v.status === 'active') : d.items)).catch(() => {});
  }, []);
  return voices;
}

function VoicePicker({ value, onChange, error }) {
  const voices = useVoices(true);
  const [lang, setLang] = useState('');
  const [gender, setGender] = useState('');
  const langs = [...new Set(voices.map((v) => v.language).filter(Boolean))];
  const shown = voices.filter((v) => (!lang || v.language === lang) && (!gender || v.gender === gender));
  useEffect(() => { if (!value && shown.length) onChange(shown[0].id); }, [shown.length]);
  const current = voices.find((v) => v.id === value);
  return html`<fieldset class="voices"><legend>Voice</legend>
    <div class="row">
      <${Field} label="Language" as="select" value=${lang} onChange=${(e) => setLang(e.target.value)}>
        <option value="">Any</option>${langs.map((l) => html`<option value=${l}>${l}</option>`)}
      <//>
      <${Field} label="Gender" as="select" value=${gender} onChange=${(e) => setGender(e.target.value)}>
        <option value="">Any</option><option value="female">Female</option><option value="male">Male</option><option value="neutral">Neutral</option>
      <//>
      <${Field} label="Voice" as="select" value=${value} error=${error} onChange=${(e) => onChange(e.target.value)}>
        ${shown.map((v) => html`<option value=${v.id}>${v.name}${v.isCloned ? ' (your clone)' : ''}</option>`)}
      <//>
    </div>
    ${current?.previewUrl && html`<audio controls preload="none" src=${current.previewUrl} aria-label=${`Preview of ${current.name}`}></audio>`}
  </fieldset>`;
}

export function Tts({ refreshUser }) {
  const a = useAction();
  const [f, setF] = useState({ text: '', voiceId: '', emotion: 'auto', speed: 1, pitch: 0, volume: 1, audioFormat: 'mp3' });
  const [job, setJob] = useState(null);
  const set = (k, num) => (e) => setF({ ...f, [k]: num ? Number(e.target.value) : e.target.value });
  const cost = Math.ceil(f.text.length / 100);
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => {
      const j = await call('POST', '/api/tts', f, { headers: { 'Idempotency-Key': crypto.randomUUID() } });
      setJob(j);
      refreshUser();
    });
  };
  return html`<main><h1>Text to speech</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} as="textarea" label="Text" rows="6" maxlength="10000" value=${f.text} onInput=${set('text')} error=${a.fields.text}
        hint=${`${f.text.length} / 10000 characters · about ${cost} credit${cost === 1 ? '' : 's'}`} />
      <p class="meta" aria-live="polite">${f.text.length} / 10000 characters · about ${cost} credit${cost === 1 ? '' : 's'}</p>
      <${VoicePicker} value=${f.voiceId} onChange=${(v) => setF((o) => ({ ...o, voiceId: v }))} error=${a.fields.voiceId} />
      <div class="row">
        <${Field} label="Emotion" as="select" value=${f.emotion} onChange=${set('emotion')}>${EMOTIONS.map((x) => html`<option value=${x}>${x}</option>`)}<//>
        <${Field} label=${`Speed ${f.speed}×`} type="range" min="0.5" max="2" step="0.1" value=${f.speed} onInput=${set('speed', true)} error=${a.fields.speed} />
        <${Field} label=${`Pitch ${f.pitch}`} type="range" min="-12" max="12" step="1" value=${f.pitch} onInput=${set('pitch', true)} error=${a.fields.pitch} />
        <${Field} label=${`Volume ${f.volume}`} type="range" min="0.1" max="10" step="0.1" value=${f.volume} onInput=${set('volume', true)} error=${a.fields.volume} />
        <${Field} label="Format" as="select" value=${f.audioFormat} onChange=${set('audioFormat')}><option>mp3</option><option>wav</option><option>flac</option><//>
      </div>
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy || !f.text.trim()}>Generate speech</button>
    </form>
    <${JobView} job=${job} onDone=${refreshUser} />
  </main>`;
}

// Drag-and-drop or pick a file; uploads it with a progress bar.
export function Uploader({ path = '/api/audios', accept = 'audio/*', what = 'an audio file', onUploaded }) {
  const [pct, setPct] = useState(null);
  const [error, setError] = useState(null);
  const [over, setOver] = useState(false);
  const send = async (file) => {
    if (!file) return;
    setError(null);
    setPct(0);
    try {
      const sep = path.includes('?') ? '&' : '?';
      const res = await upload(`${path}${sep}filename=${encodeURIComponent(file.name)}`, file, setPct);
      onUploaded?.(res);
    } catch (e) {
      setError(e);
    } finally {
      setPct(null);
    }
  };
  return html`<div class=${`drop ${over ? 'over' : ''}`}
      onDragOver=${(e) => { e.preventDefault(); setOver(true); }} onDragLeave=${() => setOver(false)}
      onDrop=${(e) => { e.preventDefault(); setOver(false); send(e.dataTransfer.files[0]); }}>
    <label>Drop ${what} here, or choose one
      <input type="file" accept=${accept} onChange=${(e) => send(e.target.files[0])} /></label>
    ${pct != null && html`<${Progress} value=${pct} label="Upload progress" />`}
    <${Notice} error=${error} />
  </div>`;
}

export function Voices({ refreshUser }) {
  const list = usePaged('/api/voices');
  const a = useAction();
  const [sample, setSample] = useState(null);
  const [name, setName] = useState('');
  const [job, setJob] = useState(null);
  const clone = (e) => {
    e.preventDefault();
    a.run(async () => {
      const r = await call('POST', '/api/voices', { name, sampleAudioId: sample?.id });
      setJob(r.job);
      list.reload();
      refreshUser();
    });
  };
  const remove = (v) => a.run(async () => { await call('DELETE', `/api/voices/${v.id}`); list.reload(); });
  return html`<main><h1>Voice lab</h1>
    <section><h2>Clone a voice</h2>
      <p>Upload 10 seconds to 5 minutes of clear speech.</p>
      <${Uploader} onUploaded=${setSample} />
      ${sample && html`<p>Sample: ${sample.filename} (${seconds(sample.durationMs)})</p>`}
      <form onSubmit=${clone} novalidate>
        <${Field} label="Voice name" value=${name} onInput=${(e) => setName(e.target.value)} error=${a.fields.name} />
        ${a.fields.sampleAudioId && html`<p class="error" role="alert">${a.fields.sampleAudioId}</p>`}
        <${Notice} error=${a.error} />
        <button type="submit" disabled=${a.busy || !sample}>Clone the voice</button>
      </form>
      <${JobView} job=${job} onDone=${() => list.reload()} />
    </section>
    <section><h2>Your voices and presets</h2>
      <${Notice} error=${list.error} />
      <ul class="cards">${(list.data?.items || []).map((v) => html`<li key=${v.id} class="card">
        <h3>${v.name}</h3>
        <p><span class=${`status ${v.status}`}>${v.status}</span> · ${v.language || ''} ${v.gender || ''} ${v.isCloned ? '· cloned' : '· preset'}</p>
        ${v.expiresAt && html`<p>Expires ${when(v.expiresAt)}</p>`}
        ${v.error && html`<p class="error">${v.error.message || v.error}</p>`}
        ${v.previewUrl && html`<audio controls preload="none" src=${v.previewUrl} aria-label=${`Preview of ${v.name}`}></audio>`}
        ${v.isCloned && html`<button type="button" class="danger" onClick=${() => remove(v)}>Delete ${v.name}</button>`}
      </li>`)}</ul>
      <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
    </section>
  </main>`;
}

function AudioPicker({ value, onChange, error }) {
  const [items, setItems] = useState([]);
  useEffect(() => { call('GET', '/api/audios?limit=100').then((d) => setItems(d.items)).catch(() => {}); }, []);
  return html`<${Field} label="Source audio" as="select" value=${value} error=${error} onChange=${(e) => onChange(e.target.value)}>
    <option value="">Choose a file</option>${items.map((x) => html`<option value=${x.id}>${x.filename}</option>`)}
  <//>`;
}

export function Convert({ refreshUser }) {
  const a = useAction();
  const [src, setSrc] = useState('');
  const [voiceId, setVoiceId] = useState('');
  const [job, setJob] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => { setJob(await call('POST', '/api/voice-conversion', { sourceAudioId: src, voiceId })); refreshUser(); });
  };
  return html`<main><h1>Voice conversion</h1>
    <form onSubmit=${submit} novalidate>
      <${AudioPicker} value=${src} onChange=${setSrc} error=${a.fields.sourceAudioId} />
      <${VoicePicker} value=${voiceId} onChange=${setVoiceId} error=${a.fields.voiceId} />
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy || !src}>Convert</button>
    </form>
    <${JobView} job=${job} onDone=${refreshUser} /></main>`;
}

export function Sfx({ refreshUser }) {
  const a = useAction();
  const [prompt, setPrompt] = useState('');
  const [dur, setDur] = useState(10);
  const [job, setJob] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    a.run(async () => { setJob(await call('POST', '/api/sfx', { prompt, durationSeconds: dur })); refreshUser(); });
  };
  return html`<main><h1>Sound effects</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} label="Describe the sound" as="textarea" rows="3" maxlength="500" value=${prompt} onInput=${(e) => setPrompt(e.target.value)} error=${a.fields.prompt} />
      <${Field} label=${`Length: ${dur} s`} type="range" min="1" max="30" value=${dur} onInput=${(e) => setDur(Number(e.target.value))} error=${a.fields.durationSeconds} />
      <${Notice} error=${a.error} />
      <button type="submit" disabled=${a.busy || !prompt.trim()}>Make the sound</button>
    </form>
    <${JobView} job=${job} onDone=${refreshUser} /></main>`;
}

export function History() {
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const q = new URLSearchParams();
  if (kind) q.set('kind', kind);
  if (status) q.set('status', status);
  const list = usePaged(`/api/jobs?${q}`);
  const [open, setOpen] = useState(null);
  return html`<main><h1>History</h1>
    <div class="row">
      <${Field} label="Kind" as="select" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="">All</option>${['tts', 'voice_clone', 'voice_conversion', 'sfx', 'video_clip', 'video_compile', 'video_render'].map((k) => html`<option value=${k}>${label(k)}</option>`)}<//>
      <${Field} label="Status" as="select" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">All</option>${['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => html`<option>${s}</option>`)}<//>
    </div>
    <${Notice} error=${list.error} />
    <table><caption>Your jobs</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Credits</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${(list.data?.items || []).map((j) => html`<tr key=${j.id}>
        <td>${when(j.createdAt)}</td><td>${label(j.kind)}</td><td><span class=${`status ${j.status}`}>${j.status}</span></td><td>${j.costCredits}</td>
        <td>${j.status === 'succeeded' && j.result?.url && html`<button type="button" onClick=${() => setOpen(j)}>Play</button>`}</td></tr>`)}</tbody>
    </table>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
    ${open && html`<section aria-label="Now playing"><h2>${label(open.kind)} · ${when(open.createdAt)}</h2>
      ${(open.result.contentType || '').startsWith('video/') ? html`<video controls src=${open.result.url}></video>` : html`<${Player} src=${open.result.url} title=${label(open.kind)} />`}</section>`}
  </main>`;
}

export function Library() {
  const list = usePaged('/api/audios');
  const a = useAction();
  const remove = (x) => a.run(async () => { await call('DELETE', `/api/audios/${x.id}`); list.reload(); });
  return html`<main><h1>Audio library</h1>
    <${Uploader} onUploaded=${() => list.reload()} />
    <${Notice} error=${a.error || list.error} />
    <ul class="cards">${(list.data?.items || []).map((x) => html`<li key=${x.id} class="card">
      <h3>${x.filename}</h3><p>${x.source} · ${seconds(x.durationMs)} · ${when(x.createdAt)}</p>
      <audio controls preload="none" src=${x.url} aria-label=${`Play ${x.filename}`}></audio>
      <p><a href=${x.url} download=${x.filename}>Download</a> <button type="button" class="danger" onClick=${() => remove(x)}>Delete ${x.filename}</button></p>
    </li>`)}</ul>
    <${Pager} pagination=${list.data?.pagination} setPage=${list.setPage} />
  </main>`;
}
