/** What POST /search can find in an event: the text and its search key (pure; used by the indexer). */
import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';

export type SearchKey = 'content.body' | 'content.name' | 'content.topic';
export const SEARCH_KEYS: readonly SearchKey[] = ['content.body', 'content.name', 'content.topic'];

/** Postgres text cannot hold NUL; tsvector input is text. */
const clean = (s: string): string => s.replace(/\u0000/g, ' ');

/**
 * m.room.message bodies, m.room.name names and m.room.topic topics (state key ''), as Synapse
 * indexes them. Undefined for anything else.
 */
export function searchableText(type: string, stateKey: string | undefined, content: unknown): { key: SearchKey; text: string } | undefined {
  if (!isJsonObject(content)) return undefined;
  const c: JsonObject = content;
  if (type === 'm.room.message' && stateKey === undefined && typeof c.body === 'string') return { key: 'content.body', text: clean(c.body) };
  if (type === 'm.room.name' && stateKey === '' && typeof c.name === 'string') return { key: 'content.name', text: clean(c.name) };
  if (type === 'm.room.topic' && stateKey === '' && typeof c.topic === 'string') return { key: 'content.topic', text: clean(c.topic) };
  return undefined;
}

/** The plain-text topic: the `text/plain` entry of `m.topic` if any, else `topic` (as clients render it). */
export function plainTopic(content: JsonObject): string | undefined {
  const rich = content['m.topic'];
  if (isJsonObject(rich) && Array.isArray(rich['m.text'])) {
    for (const t of rich['m.text']) {
      if (isJsonObject(t) && typeof t.body === 'string' && (t.mimetype === undefined || t.mimetype === 'text/plain')) return t.body;
    }
  }
  return typeof content.topic === 'string' ? content.topic : undefined;
}

/**
 * User directory words: the localpart, its parts split on punctuation, and the display name's
 * words, lowercased. Searching matches each term word as a prefix of one of these.
 */
export function directoryWords(userId: string, displayName: string | undefined): string[] {
  const localpart = userId.slice(1, userId.includes(':') ? userId.indexOf(':') : undefined).toLowerCase();
  const words = new Set<string>();
  if (localpart) words.add(localpart);
  for (const w of splitWords(localpart)) words.add(w);
  for (const w of splitWords(displayName ?? '')) words.add(w);
  return [...words].filter((w) => w.length <= 200);
}

/** Lowercased runs of letters and digits. */
export function splitWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).map((w) => w.replace(/\u0000/g, ''));
}
