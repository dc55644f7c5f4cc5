// One-click links. The seed's own examples are sent as the ipfw text it prints (sections 2.2 and
// 2.3, applied by POST /api/v1/ipfw?replace=1, as `picowire ipfw -f` would); the common links are
// profiles with an uplink pipe (from port a, the hosts under test) and a downlink pipe (from b).
// Figures and where they come from:
// - DSL, 3G and LTE: WebPageTest's connectivity profiles (its settings/connectivity.ini.sample:
//   DSL 1.5 Mbit/s down, 384 Kbit/s up, 50 ms RTT; 3GFast 1.6 Mbit/s / 768 Kbit/s / 150 ms;
//   LTE 12 Mbit/s / 12 Mbit/s / 70 ms), the same ones Chrome's and Lighthouse's throttling follow.
// - Satellite: a geostationary link, 25 Mbit/s down and 3 Mbit/s up as the FCC's Measuring
//   Broadband America reports give for satellite plans, with about 600 ms RTT (the light time up
//   and down twice, 477 ms for 35,786 km, plus the gateways), and 0.1 % loss.
// - Lossy Wi-Fi: a crowded 2.4 GHz cell, 10 Mbit/s each way, 5 ms ± 3 ms, 2 % random loss (the
//   loss at which Padhye et al.'s TCP model shows Reno's rate falling to a few Mbit/s at these RTTs).
import type { Profile } from '../profile/schema.ts';

export interface Preset {
  name: string;
  /** what the user sees beside the button */
  summary: string;
  profile?: Profile;
  /** ipfw text replacing the profile in force */
  ipfw?: string;
}

/** A two-pipe link: `up` from a (the hosts under test) to b, `down` back; delays are one way. */
function link(name: string, up: Profile['pipes'][string], down: Profile['pipes'][string]): Profile {
  return { name, pipes: { up, down }, rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }] } as Profile;
}

export const PRESETS: Preset[] = [
  {
    name: 'seed 2.2: asymmetric ports',
    summary: '256 Kbit/s 20 ms to ports 2000-3000, 4 Mbit/s 5 ms back',
    ipfw: ['pipe 10 config bw 256 Kbit/s delay 20ms', 'pipe 11 config bw 4 Mbit/s delay 5ms', 'add 100 pipe 10 out dst-port 2000-3000', 'add 200 pipe 11 in src-port 2000-3000', 'add 300 allow ip from any to any'].join('\n'),
  },
  {
    name: 'seed 2.3: QFQ per /24',
    summary: '1 Mbit/s per source /24, queues per host: ssh and dns weighted 10:4 over the rest',
    ipfw: [
      'pipe 5 config sched qfq mask src-ip 0xffffff00 bw 1 Mbit/s',
      // the masks as the seed prints them (its first lacks an f)
      'queue 1 config pipe 5 weight 10 mask src-ip 0xfffffff',
      'queue 2 config pipe 5 weight 4 mask src-ip 0xffffffff',
      'add 100 queue 1 in dst-port 22,53',
      'add 200 queue 2 in dst-port any',
    ].join('\n'),
  },
  { name: 'DSL', summary: '384 Kbit/s up, 1.5 Mbit/s down, 50 ms RTT', profile: link('dsl', { bw: '384Kbit/s', delay: '25ms' }, { bw: '1.5Mbit/s', delay: '25ms' }) },
  { name: '3G', summary: '768 Kbit/s up, 1.6 Mbit/s down, 150 ms RTT', profile: link('3g', { bw: '768Kbit/s', delay: '75ms' }, { bw: '1.6Mbit/s', delay: '75ms' }) },
  { name: 'LTE', summary: '12 Mbit/s each way, 70 ms RTT', profile: link('lte', { bw: '12Mbit/s', delay: '35ms' }, { bw: '12Mbit/s', delay: '35ms' }) },
  { name: 'satellite', summary: '3 Mbit/s up, 25 Mbit/s down, 600 ms RTT, 0.1 % loss', profile: link('satellite', { bw: '3Mbit/s', delay: '300ms', plr: 0.001 }, { bw: '25Mbit/s', delay: '300ms', plr: 0.001 }) },
  { name: 'lossy Wi-Fi', summary: '10 Mbit/s, 5 ± 3 ms, 2 % loss', profile: link('lossy-wifi', { bw: '10Mbit/s', delay: '5ms', jitter: '3ms', plr: 0.02 }, { bw: '10Mbit/s', delay: '5ms', jitter: '3ms', plr: 0.02 }) },
];
