/**
 * `homeserver register-user`: create an account on a running server with the shared secret, as
 * Synapse's `register_new_matrix_user` does — over HTTP, so it works whichever process serves the Admin API.
 */
import fs from 'node:fs';
import { registerWithSharedSecret, SharedSecretRegistrationError } from '@hs/accounts';
import { loadConfig, planRoles, type Config } from '@hs/config';
import { UsageError } from './args.ts';

export interface RegisterUserOptions {
  readonly configs: readonly string[];
  readonly user: string;
  readonly password: string;
  readonly admin: boolean;
  /** Base URL of the server; default: main's client listener on loopback. */
  readonly url?: string;
}

function secretOf(config: Config): string {
  if (config.registrationSharedSecret) return config.registrationSharedSecret;
  if (config.registrationSharedSecretPath) return fs.readFileSync(config.registrationSharedSecretPath, 'utf8').trim();
  throw new UsageError('register-user: the configuration has no registration_shared_secret (or registration_shared_secret_path)');
}

function localUrl(config: Config): string {
  const plan = planRoles(config);
  const l = plan.listeners.find((x) => x.address.kind === 'tcp' && x.resources.includes('client'));
  if (!l || l.address.kind !== 'tcp') throw new UsageError('register-user: no client listener in the configuration; pass --url');
  const host = l.address.bindAddresses.find((h) => h !== '::' && h !== '0.0.0.0') ?? '127.0.0.1';
  return `${l.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${l.address.port}`;
}

export async function registerUser(opts: RegisterUserOptions): Promise<string> {
  const { config } = await loadConfig([...opts.configs]);
  const secret = secretOf(config);
  try {
    const result = await registerWithSharedSecret(opts.url ?? localUrl(config), secret, {
      username: opts.user,
      password: opts.password,
      admin: opts.admin,
    });
    return result.user_id;
  } catch (e) {
    if (e instanceof SharedSecretRegistrationError) throw new Error(`register-user: ${e.message}`);
    if (e instanceof TypeError) throw new Error(`register-user: cannot reach the server (${(e.cause as Error | undefined)?.message ?? e.message}); is it running?`);
    throw e;
  }
}
