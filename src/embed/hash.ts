// The SHA-256 of bytes in memory, hex (files are hashed by streaming: builder/manifest.ts).
import { createHash } from 'node:crypto';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
