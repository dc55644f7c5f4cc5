// GRUB images built with grub-mkimage holding only the modules a picowire boot needs (grub-mkrescue
// installs every module for both platforms: 34 MB for a 13 MB payload), and the grub.cfg they read.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { UserError } from '../common/errors.ts';
import { PACKAGE_ROOT } from '../common/root.ts';
import { grubCmdline, grubWord, kernelCmdline } from './cmdline.ts';
import { runTool } from './tools.ts';

/** What a GRUB image is for: BIOS from CD (El Torito), BIOS from disk (after boot.img), or UEFI. */
export type GrubFormat = 'i386-pc-eltorito' | 'i386-pc' | 'x86_64-efi';
/** The filesystem GRUB reads grub.cfg, the kernel and the initrd from. */
export type GrubFs = 'iso9660' | 'fat';

/** Modules every image needs: menu, Linux loader, the marker search, serial console, both partition tables. */
const COMMON_MODULES = ['normal', 'configfile', 'linux', 'search', 'echo', 'test', 'serial', 'terminal', 'part_gpt', 'part_msdos'];
/** Modules one platform adds: BIOS disk access; the UEFI framebuffer handed to the kernel. */
const PLATFORM_MODULES: Record<GrubFormat, string[]> = {
  'i386-pc-eltorito': ['biosdisk'],
  'i386-pc': ['biosdisk'],
  'x86_64-efi': ['efi_gop'],
};
/** The Debian package holding each platform's modules, named when they are missing. */
const PLATFORM_PACKAGE = { 'i386-pc': 'grub-pc-bin', 'x86_64-efi': 'grub-efi-amd64-bin' } as const;

export const GRUB_LIB = '/usr/lib/grub';
const TEMPLATES = join(PACKAGE_ROOT, 'overlays/grub');

/** Where one platform's modules and boot sectors are; a UserError naming the package when absent. */
export function grubPlatformDir(platform: keyof typeof PLATFORM_PACKAGE, output: string): string {
  const dir = join(GRUB_LIB, platform);
  if (!existsSync(join(dir, 'moddep.lst'))) {
    const pkg = PLATFORM_PACKAGE[platform];
    throw new UserError(`GRUB for ${platform} (${dir}) is needed to write the ${output} output but is not installed; install the Debian package ${pkg} (apt-get install -y ${pkg})`);
  }
  return dir;
}

/** Fills one template of overlays/grub/ with the given values; a value it names but lacks is an error. */
async function render(template: string, values: Record<string, unknown>): Promise<string> {
  const text = await readFile(join(TEMPLATES, template), 'utf8');
  return Handlebars.compile(text, { noEscape: true, strict: true })(values);
}

/** The GRUB image for one boot path, with an embedded early config that finds the media by its marker file. */
export async function makeGrubImage(opts: { format: GrubFormat; fs: GrubFs; marker: string; out: string; workDir: string; epoch: number; output: string }): Promise<string> {
  const platform = opts.format === 'x86_64-efi' ? 'x86_64-efi' : 'i386-pc';
  const dir = grubPlatformDir(platform, opts.output);
  const early = join(opts.workDir, `early-${opts.format}.cfg`);
  await writeFile(early, await render('early.cfg.hbs', { marker: opts.marker }));
  const modules = [...PLATFORM_MODULES[opts.format], opts.fs, ...COMMON_MODULES];
  await runTool('grub-mkimage', ['-d', dir, '-O', opts.format, '-p', '/boot/grub', '-c', early, '-o', opts.out, ...modules], { epoch: opts.epoch, output: opts.output });
  return opts.out;
}

/** The grub.cfg every output carries at /boot/grub/grub.cfg: one entry booting /boot/vmlinuz with /boot/initrd.img. */
export async function renderGrubCfg(opts: { name: string; cmdline: string; timeout?: number }): Promise<string> {
  const title = `picowire ${opts.name}`;
  return render('grub.cfg.hbs', { title, grubTitle: grubWord(title), timeout: opts.timeout ?? 0, cmdline: grubCmdline(kernelCmdline(opts.cmdline)) });
}
