// ipfw/dummynet command lines ⇄ picowire JSON profiles. See parse.ts for what is read and the
// direction convention (ipfw `out` = from port a, `in` = from port b), format.ts for what is written.
export { parseIpfw } from './parse.ts';
export { formatIpfw } from './format.ts';
export { amendProfile, Inexpressible } from './amend.ts';
