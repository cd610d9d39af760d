// Small building blocks every page uses: fields with their errors, notices, job
// progress, an audio player with a waveform, lists with pages.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { call, explain, waitJob } from './api.js';

export const html = htm.bind(h);

let ids = 0;
const nextId = (p) => `${p}-${++ids}`;

// A labelled input; `error` is the API's message for this field (errors[] of a 400).
export function Field({ label, error, hint, as = 'input', children, ...rest }) {
  const [id] = useState(() => nextId('f'));
  const errId = `${id}-err`;
  const props = { id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': error ? errId : undefined, ...rest };
  let control;
  if (as === 'select') control = html`<select ...${props}>${children}</select>`;
  else if (as === 'textarea') control = html`<textarea ...${props}></textarea>`;
  else control = html`<input ...${props} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${control}
    ${hint && !error && html`<small class="hint">${hint}</small>`}
    ${error && html`<small class="error" id=${errId} role="alert">${error}</small>`}
  </div>`;
}

export function Notice({ error, info }) {
  if (error) return html`<p class="notice error" role="alert">${typeof error === 'string' ? error : explain(error)}</p>`;
  if (info) return html`<p class="notice info" role="status">${info}</p>`;
  return null;
}

// Runs an API call for a form: busy flag, error, field errors.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, fields: error?.fields || {}, run, setError };
}

export function Progress({ value, label }) {
  return html`<div class="progress">
    <progress max="100" value=${value} aria-label=${label || 'Progress'}>${value}%</progress>
    <span>${value}%</span>
  </div>`;
}

// Follows a job until it ends, showing its status and progress.
export function JobView({ job: initial, onDone }) {
  const [job, setJob] = useState(initial);
  useEffect(() => {
    if (!initial) return undefined;
    const ctl = new AbortController();
    setJob(initial);
    waitJob(initial.id, setJob, ctl.signal)
      .then((j) => j && onDone?.(j))
      .catch(() => {});
    return () => ctl.abort();
  }, [initial?.id]);
  if (!job) return null;
  return html`<section class="job" aria-live="polite" data-status=${job.status}>
    <p><strong>${label(job.kind)}</strong> · <span class=${`status ${job.status}`}>${job.status}</span>
      ${job.costCredits != null && html` · ${job.costCredits} credits`}</p>
    ${!['succeeded', 'failed', 'cancelled'].includes(job.status) && html`<${Progress} value=${job.progress || 0} label="Job progress" />`}
    ${job.status === 'failed' && html`<p class="notice error" role="alert">${job.error?.message || 'The job failed; its credits were refunded.'}</p>`}
    ${job.status === 'succeeded' && job.result?.url && (job.result.contentType || '').startsWith('audio/') && html`<${Player} src=${job.result.url} title=${label(job.kind)} />`}
    ${job.status === 'succeeded' && job.result?.url && html`<p><a href=${job.result.url} download>Download</a></p>`}
  </section>`;
}

export function label(kind) {
  return ({
    tts: 'Speech', voice_clone: 'Voice clone', voice_conversion: 'Voice conversion', sfx: 'Sound effect',
    video_clip: 'Clip', video_compile: 'Compilation', script: 'Script', narration: 'Narration',
    images: 'Images', video_render: 'Video render', estimate: 'Estimate',
  })[kind] || kind;
}

// An audio player with a waveform drawn from the decoded file.
export function Player({ src, title }) {
  const canvas = useRef(null);
  useEffect(() => {
    let stop = false;
    (async () => {
      try {
        const buf = await (await fetch(src)).arrayBuffer();
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx || stop) return;
        const ctx = new Ctx();
        const audio = await ctx.decodeAudioData(buf);
        ctx.close();
        const c = canvas.current;
        if (!c || stop) return;
        const data = audio.getChannelData(0);
        const g = c.getContext('2d');
        const w = c.width;
        const mid = c.height / 2;
        g.clearRect(0, 0, w, c.height);
        g.fillStyle = '#5b4bd6';
        const step = Math.max(1, Math.floor(data.length / w));
        for (let x = 0; x < w; x++) {
          let peak = 0;
          for (let i = x * step; i < (x + 1) * step && i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
          g.fillRect(x, mid - peak * mid, 1, Math.max(1, peak * mid * 2));
        }
      } catch { /* the waveform is decoration: the player still works */ }
    })();
    return () => { stop = true; };
  }, [src]);
  return html`<figure class="player">
    <canvas ref=${canvas} width="600" height="60" aria-hidden="true"></canvas>
    <audio controls preload="metadata" src=${src} aria-label=${`Play ${title || 'audio'}`}></audio>
  </figure>`;
}

// A paged list of an API collection.
export function usePaged(path, deps = []) {
  const [page, setPage] = useState(1);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const sep = path.includes('?') ? '&' : '?';
    call('GET', `${path}${sep}page=${page}&limit=20`)
      .then((d) => live && setData(d))
      .catch((e) => live && setError(e));
    return () => { live = false; };
  }, [path, page, tick, ...deps]);
  return { data, error, page, setPage, reload: () => setTick((t) => t + 1) };
}

export function Pager({ pagination, setPage }) {
  if (!pagination || pagination.totalPages <= 1) return null;
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" disabled=${!pagination.hasPrev} onClick=${() => setPage(pagination.page - 1)}>Previous</button>
    <span>Page ${pagination.page} of ${pagination.totalPages}</span>
    <button type="button" disabled=${!pagination.hasNext} onClick=${() => setPage(pagination.page + 1)}>Next</button>
  </nav>`;
}

export const when = (t) => (t ? new Date(t).toLocaleString() : '');
export const seconds = (ms) => (ms == null ? '' : `${(ms / 1000).toFixed(1)} s`);
