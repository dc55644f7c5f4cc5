// Who may use the API: a request that carries `Authorization: Bearer <token>` with the box's token.
// Compared in constant time over SHA-256 digests: the digests have one length whatever was sent, so
// neither the comparison's time nor an early length check tells a caller how much of a guess was right.
// node:crypto is loaded when the API starts, not before the agent's main() (see server.ts).

/** A check of Authorization headers against one token. */
export async function bearerCheck(token: string): Promise<(authorization: string | undefined) => boolean> {
  const { createHash, timingSafeEqual } = await import('node:crypto');
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  const expected = digest(token);
  return (authorization) => {
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    // a missing header is compared too, so it costs what a wrong one does
    return timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null;
  };
}
