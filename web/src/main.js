// The Reelvox studio: one page, routed by path, over the public API only.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call } from './api.js';
import { html } from './ui.js';
import { Credits, Forgot, Reset, SignIn, SignUp, Verify } from './pages/account.js';
import { Convert, History, Library, Sfx, Tts, Voices } from './pages/voice.js';
import { Batches, Clips, Video, Videos } from './pages/video.js';
import { Buy, CheckoutDone, Keys, Payments } from './pages/money.js';
import { ExpertArea, Project, Projects } from './pages/projects.js';
import { Admin } from './pages/admin.js';

// path → [title, page, needs a signed-in user]
const ROUTES = {
  '/signin': ['Sign in', SignIn, false],
  '/signup': ['Create account', SignUp, false],
  '/verify': ['Verify email', Verify, false],
  '/forgot': ['Forgot password', Forgot, false],
  '/reset': ['Reset password', Reset, false],
  '/tts': ['Text to speech', Tts, true],
  '/voices': ['Voice lab', Voices, true],
  '/convert': ['Voice conversion', Convert, true],
  '/sfx': ['Sound effects', Sfx, true],
  '/history': ['History', History, true],
  '/library': ['Audio library', Library, true],
  '/credits': ['Credits', Credits, true],
  '/clips': ['Clip studio', Clips, true],
  '/videos': ['Explainer videos', Videos, true],
  '/videos/*': ['Video', Video, true],
  '/batches': ['Batches', Batches, true],
  '/projects': ['Projects', Projects, true],
  '/projects/*': ['Project', Project, true],
  '/expert': ['Expert area', ExpertArea, true],
  '/checkout': ['Buy credits', Buy, true],
  '/checkout/done': ['Your purchase', CheckoutDone, true],
  '/payments': ['Payments', Payments, true],
  '/keys': ['Provider keys', Keys, true],
  '/admin': ['Admin', Admin, true],
  '/admin/*': ['Admin', Admin, true],
};

// The route of a path: itself, or its first segment's "/x/*".
const routeOf = (path) => ROUTES[path] || ROUTES[`/${path.split('/')[1]}/*`];

const NAV = [
  ['/tts', 'Speech'], ['/voices', 'Voice lab'], ['/convert', 'Conversion'], ['/sfx', 'Sound effects'],
  ['/clips', 'Clips'], ['/videos', 'Explainers'], ['/projects', 'Projects'],
  ['/history', 'History'], ['/library', 'Library'], ['/credits', 'Credits'], ['/checkout', 'Buy credits'],
];

function App() {
  const [path, setPath] = useState(location.pathname);
  const [user, setUser] = useState(undefined); // undefined: not known yet
  const go = (to) => {
    history.pushState(null, '', to);
    setPath(new URL(to, location.href).pathname);
  };
  const refreshUser = () => call('GET', '/api/me').then(setUser).catch(() => setUser(null));
  useEffect(() => {
    refreshUser();
    const pop = () => setPath(location.pathname);
    addEventListener('popstate', pop);
    // Links inside the app navigate without a reload.
    const click = (e) => {
      const a = e.target.closest?.('a[href^="/"]');
      if (!a || a.hasAttribute('download') || a.target || e.ctrlKey || e.metaKey || a.getAttribute('href').startsWith('/media/')) return;
      e.preventDefault();
      go(a.getAttribute('href'));
    };
    document.addEventListener('click', click);
    return () => { removeEventListener('popstate', pop); document.removeEventListener('click', click); };
  }, []);
  const route = routeOf(path) || (path === '/' ? null : ['Not found', null, false]);
  useEffect(() => {
    document.title = route ? `${route[0]} · Reelvox` : 'Reelvox';
    document.querySelector('main h1')?.focus?.();
  }, [path]);
  // Where this path sends the visitor instead: the studio's home, or signing in.
  const redirect = user === undefined ? null
    : !route ? (user ? '/tts' : '/signin')
    : route[2] && !user ? '/signin' : null;
  useEffect(() => { if (redirect) go(redirect); }, [redirect]);
  if (user === undefined || redirect) return html`<main class="boot"><h1>Reelvox</h1><p>Loading…</p></main>`;
  const [, Page] = route;
  const signOut = async () => { try { await call('POST', '/api/auth/logout'); } catch { /* gone anyway */ } setUser(null); go('/signin'); };
  return html`<${Shell} user=${user} path=${path} signOut=${signOut}>
    ${Page ? html`<${Page} user=${user} path=${path} onUser=${setUser} refreshUser=${refreshUser} go=${go} />` : html`<main><h1>Not found</h1><p><a href="/">Back to the studio</a></p></main>`}
  <//>`;
}

function Shell({ user, path, signOut, children }) {
  const [open, setOpen] = useState(false);
  return html`<a class="skip" href="#content">Skip to content</a>
  <header class="top">
    <a class="brand" href="/">Reelvox</a>
    ${user && html`<button type="button" class="menu" aria-expanded=${open} aria-controls="nav" onClick=${() => setOpen(!open)}>Menu</button>
    <nav id="nav" class=${open ? 'open' : ''} aria-label="Studio">
      ${[...NAV, ...(user.role === 'expert' ? [['/expert', 'Expert area']] : []), ...(user.role === 'admin' ? [['/admin', 'Admin']] : [])]
        .map(([to, text]) => html`<a href=${to} aria-current=${path === to ? 'page' : undefined} onClick=${() => setOpen(false)}>${text}</a>`)}
    </nav>
    <div class="who"><span class="credits" title="Your credits">${user.credits} credits</span>
      <span class="email">${user.email}</span>
      <button type="button" onClick=${signOut}>Sign out</button></div>`}
  </header>
  <div id="content">${children}</div>`;
}

render(html`<${App} />`, document.getElementById('app'));
