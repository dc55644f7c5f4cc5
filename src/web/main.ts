// The page on the box: log in with the token, then follow the box live (live.ts) and change what
// is in force (changes.ts). Everything it asks goes to the box that served it.
import type { Change } from '../agent/changes.ts';
import { resolveProfile, type ResolvedProfile } from '../profile/resolve.ts';
import { call, token } from './api.ts';
import { applyEditor, applyPreset, checkEditor, runIpfw, say, type ChangeHandlers } from './changes.ts';
import { resizeCharts } from './charts.ts';
import { byId, el } from './dom.ts';
import { followEvents } from './live.ts';
import { PRESETS } from './presets.ts';

let inForce: ResolvedProfile | null = null;
let live: { stop(): void } | null = null;

const changes: ChangeHandlers = {
  inForceName: () => byId('profile-name').textContent ?? '',
  applied: () => loadProfile(false),
  refused: (errors) => loggedOut(errors),
};

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
  live?.stop();
  live = followEvents({ inForce: () => inForce, profile: (c) => void profileChanged(c), refused: () => loggedOut(['the box refused the token']) });
}

/** A refused token (or Log out) sends the user back to the form with the box's words. */
function loggedOut(errors: string[]): void {
  token.clear();
  live?.stop();
  live = null;
  byId('login-error').textContent = errors.join('\n');
  show();
}

/** Fetches the profile in force and when it was applied (from /metrics); fills the editor on first load. */
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
    byId<HTMLTextAreaElement>('editor').value = JSON.stringify(profile, null, 2);
    checkEditor();
  }
  return true;
}

/** A profile applied or refused anywhere (this page, the console, the partition): say so. */
async function profileChanged(change: Change): Promise<void> {
  if (change.kind === 'applied') await loadProfile(false);
  else say(false, `a profile from ${change.source} was refused; ${changes.inForceName()} stays in force`, change.errors);
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
  byId('editor').addEventListener('input', checkEditor);
  byId('apply').addEventListener('click', () => void applyEditor(changes));
  byId('ipfw-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('ipfw-command');
    void runIpfw(changes, input.value).then(() => input.select());
  });
  byId('presets').append(
    ...PRESETS.map((p) => el('li', {}, el('button', { type: 'button', 'data-preset': p.name, onclick: () => void applyPreset(changes, p) }, p.name), ' ', el('span', {}, p.summary))),
  );
  window.addEventListener('resize', resizeCharts);
}

wire();
show();
