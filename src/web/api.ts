// The page's calls to the box: same origin only, each with the token from the login form. The token
// is kept in sessionStorage (gone when the tab closes) and sent as a header, never in a URL.
const TOKEN_KEY = 'picowire.token';

/** An answer of the box: its status and its body, parsed when JSON. */
export interface Answer {
  status: number;
  ok: boolean;
  body: unknown;
  /** the box's `errors`, or a line saying what failed */
  errors: string[];
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The Authorization header for the token in use. */
export function authorization(): Record<string, string> {
  return { authorization: `Bearer ${token.get() ?? ''}` };
}

/** One request to the box; a network failure is an answer with status 0. */
export async function call(method: string, path: string, body?: { type: string; text: string }): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(path, { method, headers: { ...authorization(), ...(body && { 'content-type': body.type }) }, body: body?.text, cache: 'no-store' });
  } catch (e) {
    return { status: 0, ok: false, body: null, errors: [`the box did not answer: ${(e as Error).message}`] };
  }
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
  }
  const errors = res.ok ? [] : ((parsed as { errors?: string[] })?.errors ?? [`${res.status} ${res.statusText}`]);
  return { status: res.status, ok: res.ok, body: parsed, errors };
}
