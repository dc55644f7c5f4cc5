// What an API bearer token may be, for the recipe's `token` field (builder) and every other source
// of one (agent): long enough not to be guessed, and only characters that survive a kernel command
// line, a FAT file and an HTTP header unquoted.
export const TOKEN_PATTERN = '^[A-Za-z0-9._~+/=-]{16,256}$';
export const TOKEN_ALLOWED = '16 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -';
