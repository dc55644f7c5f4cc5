// The page on the box: log in with the token, then follow /api/v1/events (counters every second,
// profile changes) into the charts, and edit, apply or pick profiles. Everything it asks goes to
// the box that served it.
import type { Change } from '../agent/changes.ts';
import type { Status } from '../agent/status.ts';
import { resolveProfile, type ResolvedProfile } from '../profile/resolve.ts';
import { call, authorization, token } from './api.ts';
import { drawCharts, resizeCharts } from './charts.ts';
import { byId, el } from './dom.ts';
import { checkText, placed, showErrors } from './editor.ts';
import { History } from './history.ts';
import { PRESETS, type Preset } from './presets.ts';
import { samples } from './rates.ts';
import { readEvents } from './sse.ts';

const history = new History();
let inForce: ResolvedProfile | null = null;
let previous: { status: Status; at: number } | null = null;
let stream: AbortController | null = null;

const editor = byId<HTMLTextAreaElement>('editor');
const editorErrors = byId('editor-errors');
const applyButton = byId<HTMLButtonElement>('apply');
const outcome = byId('outcome');

/** Shows the login form, or the page once a token is kept. */
function show(): void {
  const loggedIn = token.get() !== null;
  byId('login').hidden = loggedIn;
  byId('app').hidden = !loggedIn;
  if (loggedIn) void start();
}

/** Loads what is in force and follows the event stream. */
async function start(): Promise<void> {
  if (!(await loadProfile(true))) return;
  void follow();
}

/** A refused token sends the user back to the form with the box's words. */
function loggedOut(errors: string[]): void {
  token.clear();
  stream?.abort();
  byId('login-error').textContent = errors.join('\n');
  show();
}

/** Fetches the profile in force and when it was applied; fills the editor on first load. */
async function loadProfile(fillEditor: boolean): Promise<boolean> {
  const answer = await call('GET', '/api/v1/profile');
  if (answer.status === 401) return loggedOut(answer.errors), false;
  const profile = answer.ok ? (answer.body as { name: string }) : null;
  inForce = profile ? resolveProfile(profile).profile : null;
  byId('profile-name').textContent = profile?.name ?? 'none yet';
  byId('in-force').dataset.profile = profile?.name ?? '';
  byId('profile-json').textContent = profile ? JSON.stringify(profile, null, 2) : '';
  const metrics = await call('GET', '/metrics');
  const applied = /^picowire_profile_applied_timestamp_seconds (\S+)$/m.exec(String(metrics.body));
  byId('applied-at').textContent = applied ? new Date(Number(applied[1]) * 1000).toLocaleString() : '–';
  if (fillEditor && profile) {
    editor.value = JSON.stringify(profile, null, 2);
    check();
  }
  return true;
}

/** Follows /api/v1/events with the token in a header, again 2 s after the stream ends. */
async function follow(): Promise<void> {
  stream?.abort();
  const controller = (stream = new AbortController());
  const state = byId('connection');
  try {
    const res = await fetch('/api/v1/events', { headers: authorization(), signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) return loggedOut(['the box refused the token']);
    if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
    state.textContent = 'live';
    state.className = 'live';
    await readEvents(res.body, (e) => {
      if (e.event === 'counters') counters(JSON.parse(e.data) as Status);
      else if (e.event === 'profile') void profileChanged(JSON.parse(e.data) as Change);
    });
  } catch (e) {
    if (controller.signal.aborted) return;
    state.textContent = `reconnecting (${(e as Error).message})`;
  }
  if (controller.signal.aborted) return;
  state.className = 'down';
  setTimeout(() => void follow(), 2000);
}

/** One second of counters: rates against the previous reading, into the history and the charts. */
function counters(status: Status): void {
  const now = performance.now();
  const seconds = previous ? (now - previous.at) / 1000 : 0;
  history.add(Date.now() / 1000, samples(previous?.status ?? null, status, seconds, inForce));
  previous = { status, at: now };
  drawCharts(history, byId('charts'));
}

/** A profile applied or refused anywhere (this page, the console, the partition): say so. */
async function profileChanged(change: Change): Promise<void> {
  if (change.kind === 'applied') await loadProfile(false);
  else say(false, `a profile from ${change.source} was refused; ${byId('profile-name').textContent} stays in force`, change.errors);
}

/** Says how an apply went under the editor: refused ones list the box's errors. */
function say(ok: boolean, line: string, errors: string[] = []): void {
  outcome.className = ok ? 'ok' : 'refused';
  outcome.replaceChildren(el('p', {}, line), ...(errors.length ? [el('ul', { id: 'box-errors' }, ...errors.map((e) => el('li', {}, e)))] : []));
}

/** Checks the editor's text as it is typed; Apply is only possible for a valid profile. */
function check(): void {
  const checked = checkText(editor.value);
  showErrors(editorErrors, editor, checked.ok ? [] : checked.errors);
  applyButton.disabled = !checked.ok;
}

/** PUTs the editor's profile; refused, the box's errors are shown at their fields and the old one stays. */
async function applyEditor(): Promise<void> {
  await send('PUT', '/api/v1/profile', { type: 'application/json', text: editor.value });
}

/** Sends a change and says what the box answered. */
async function send(method: string, path: string, body: { type: string; text: string }): Promise<boolean> {
  const was = byId('profile-name').textContent;
  say(true, 'applying…');
  const answer = await call(method, path, body);
  if (answer.status === 401) return loggedOut(answer.errors), false;
  if (!answer.ok) {
    say(false, `refused (${answer.status}): ${was} stays in force`, answer.errors);
    if (body.type === 'application/json') showErrors(editorErrors, editor, placed(editor.value, answer.errors));
    return false;
  }
  const applied = answer.body as { applied: string; ms: number; profile: unknown };
  say(true, `applied ${applied.applied} in ${applied.ms} ms`);
  editor.value = JSON.stringify(applied.profile, null, 2);
  check();
  await loadProfile(false);
  return true;
}

/** Applies a preset in one click: a profile by PUT, the seed's ipfw text by POST. */
async function applyPreset(preset: Preset): Promise<void> {
  if (preset.profile) {
    editor.value = JSON.stringify(preset.profile, null, 2);
    check();
    await send('PUT', '/api/v1/profile', { type: 'application/json', text: editor.value });
  } else await send('POST', '/api/v1/ipfw?replace=1', { type: 'text/plain', text: preset.ipfw! });
}

/** Runs one ipfw command line against the profile in force and logs the answer. */
async function runIpfw(event: Event): Promise<void> {
  event.preventDefault();
  const input = byId<HTMLInputElement>('ipfw-command');
  const command = input.value.trim().replace(/^ipfw\s+/, '');
  if (!command) return;
  const log = byId('ipfw-log');
  if (command === 'show') {
    const answer = await call('GET', '/api/v1/ipfw');
    log.append(el('pre', { class: answer.ok ? 'ok' : 'refused' }, `> ipfw show\n${answer.ok ? String(answer.body) : answer.errors.join('\n')}`));
  } else {
    const ok = await send('POST', '/api/v1/ipfw', { type: 'text/plain', text: command });
    log.append(el('pre', { class: ok ? 'ok' : 'refused' }, `> ipfw ${command}\n${outcome.innerText}`));
  }
  log.scrollTop = log.scrollHeight;
  input.select();
}

/** Wires the page's controls once. */
function wire(): void {
  byId('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const field = byId<HTMLInputElement>('token');
    token.set(field.value.trim());
    field.value = '';
    byId('login-error').textContent = '';
    show();
  });
  byId('logout').addEventListener('click', () => loggedOut([]));
  editor.addEventListener('input', check);
  applyButton.addEventListener('click', () => void applyEditor());
  byId('ipfw-form').addEventListener('submit', (e) => void runIpfw(e));
  byId('presets').append(
    ...PRESETS.map((p) => el('li', {}, el('button', { type: 'button', 'data-preset': p.name, onclick: () => void applyPreset(p) }, p.name), ' ', el('span', {}, p.summary))),
  );
  window.addEventListener('resize', resizeCharts);
}

wire();
show();
