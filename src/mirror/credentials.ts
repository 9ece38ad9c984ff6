import { text } from 'node:stream/consumers';
import { InputError } from '../core/errors.js';
import { addSecret } from '../core/redact.js';
import type { Reporter } from '../core/reporter.js';
import type { AuthOptions } from '../image/auth.js';
import type { ImagePair } from './refs.js';

export interface CredentialFlags {
  username?: string | undefined;
  password?: string | undefined;
  passwordStdin?: boolean | undefined;
}

/**
 * `--username` with `--password`/`--password-stdin`, for every mirror host checked. The password is a
 * secret from the moment it is read (redacted everywhere, never printed).
 */
export async function mirrorCredentials(
  flags: CredentialFlags,
  pairs: readonly ImagePair[],
  reporter: Reporter,
  stdin: () => Promise<string> = () => text(process.stdin),
): Promise<AuthOptions> {
  if (flags.password !== undefined)
    reporter.warn('--password is visible to other users of this machine (process list): prefer --password-stdin');
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new InputError('--password', 'and --password-stdin exclude each other', 'give one of them');
  }
  let password = flags.password;
  if (flags.passwordStdin) password = (await stdin()).replace(/\r?\n$/, '');
  if (password) addSecret(password);
  if (!flags.username && password === undefined) return {};
  if (!flags.username) throw new InputError('--password', 'needs --username', 'give --username USER too');
  if (!password) throw new InputError('--username', 'needs a password', 'give --password-stdin (or --password)');
  const out: AuthOptions = {};
  for (const p of pairs) out[p.mirror.host] = { username: flags.username, password };
  return out;
}
