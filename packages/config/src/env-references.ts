/**
 * `${NAME}` references to the environment, allowed in `worker_name` so that identical Kubernetes
 * replicas (no fixed names) can each take their pod name: `worker_name: ${HOSTNAME}`.
 * `${NAME:-fallback}` uses the fallback when NAME is unset or empty.
 */

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export type EnvLookup = Readonly<Record<string, string | undefined>>;

export interface Expansion {
  value: string;
  /** Variables referenced without a fallback that are unset or empty. */
  missing: string[];
}

export function hasEnvReferences(text: string): boolean {
  return /\$\{/.test(text);
}

export function expandEnvReferences(text: string, env: EnvLookup): Expansion {
  const missing: string[] = [];
  const value = text.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return '';
  });
  return { value, missing };
}
