/**
 * The whole receive-side check sequence (server-server-api › Checks performed on receipt of a
 * PDU) as one pure function: format (drop) → signatures (drop) → content hash (continue with
 * the redacted copy) → auth against the auth events (reject) → auth against the state before
 * the event (reject) → auth against the current state (soft fail). Step 7, the policy server,
 * needs I/O and is left to the caller. Our own events go through checkLocalEvent, which shares
 * the auth step.
 */
import type { RoomVersion } from './room-versions.ts';
import type { EventView, PDU } from './types.ts';
import type { GetVerifyKey } from './event-signing.ts';
import type { AuthResult, AuthStateLookup } from './auth-types.ts';
import { authStateFromEvents, deny } from './auth-types.ts';
import { checkAuthRules } from './auth-rules.ts';
import { checkAuthEvents } from './auth-event-selection.ts';
import { createEventIdFromRoomId, toEventView } from './event-id.ts';
import type { VerifyEventResult } from './verify-event.ts';
import { verifyEvent } from './verify-event.ts';
import { validatePduFormat } from './pdu-format.ts';

export interface ReceivedPduLookups {
  /** Server keys, as verifyEvent uses them; fetch them first (see `requiredSignatures`). */
  getVerifyKey: GetVerifyKey;
  /**
   * The events named in the PDU's auth_events (already-checked copies, with `rejected` set if
   * they were rejected); undefined when unknown. In room v12 this must also answer for the
   * create event, which the room ID names instead of auth_events.
   */
  getEvent(eventId: string): EventView | undefined;
  /** The room state before the event (resolved from its prev_events by the caller): (type, state_key) → event. */
  stateBefore: AuthStateLookup;
  /** Optional: current room state, for the soft-fail check. */
  currentState?: AuthStateLookup;
}

export type ReceivedPduOutcome =
  /** Not stored at all. */
  | { outcome: 'dropped'; stage: 'format' | 'signatures'; reason: string }
  /** Stored as rejected; `event` has `rejected: true`, ready to be served to later auth checks. */
  | { outcome: 'rejected'; stage: 'auth_events' | 'state_before'; reason: string; event: EventView; pdu: PDU }
  /** `pdu`/`event` are the redacted copy when `redacted` (the content hash did not match). */
  | { outcome: 'accepted'; event: EventView; pdu: PDU; redacted: boolean; softFailed: boolean; softFailReason?: string };

type Accepted = Extract<ReceivedPduOutcome, { outcome: 'accepted' }>;
type RejectedAt<S extends 'auth_events' | 'state_before'> = { outcome: 'rejected'; stage: S; reason: string; event: EventView; pdu: PDU };

/** checkLocalEvent's outcomes: the receive outcomes that need neither signatures nor auth events. */
export type LocalEventOutcome = { outcome: 'dropped'; stage: 'format'; reason: string } | RejectedAt<'state_before'> | Accepted;

/** Marks an exception thrown by a caller's lookup, so it propagates instead of being reported as a bad event. */
class LookupFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

function guarded<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return f(...args);
    } catch (e) {
      throw new LookupFailure(e);
    }
  };
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Run every check on a PDU received over federation. Never throws because of the input;
 * exceptions thrown by the lookups propagate unchanged.
 *
 * A format error flagged `rejectInsteadOfDrop` (over-long IDs in v1–10) is still dropped here:
 * the validator stops at the first error, so the rest of such an event is unchecked.
 */
export function checkReceivedPdu(input: unknown, rv: RoomVersion, lookups: ReceivedPduLookups): ReceivedPduOutcome {
  const safe: ReceivedPduLookups = {
    getVerifyKey: guarded(lookups.getVerifyKey),
    getEvent: guarded((id: string) => lookups.getEvent(id)),
    stateBefore: guarded(lookups.stateBefore),
    ...(lookups.currentState ? { currentState: guarded(lookups.currentState) } : {}),
  };
  try {
    return check(input, rv, safe);
  } catch (e) {
    if (e instanceof LookupFailure) throw e.error;
    // Defence in depth: a bug in a check must not turn one bad event into a failed transaction.
    return { outcome: 'dropped', stage: 'format', reason: `internal error while checking the event: ${describe(e)}` };
  }
}

function check(input: unknown, rv: RoomVersion, lookups: ReceivedPduLookups): ReceivedPduOutcome {
  // Steps 1–3.
  const verified = verifyEvent(input, rv, lookups.getVerifyKey);
  if (!verified.ok) return { outcome: 'dropped', stage: verified.stage, reason: verifyFailureReason(verified) };
  const { pdu, redacted } = verified;
  const event = toEventView(pdu, rv, verified.eventId);

  // Step 4: the auth events, including the rules on the list itself.
  const byAuthEvents = checkAgainstAuthEvents(rv, event, lookups.getEvent);
  if (!byAuthEvents.allowed) return rejected('auth_events', byAuthEvents.reason, event, pdu);

  // Steps 5 and 6.
  return authAgainstState(rv, event, pdu, redacted, lookups.stateBefore, lookups.currentState);
}

/**
 * The local-send path: format, then the auth rules against the state before the event. Our
 * own signature and hash are trusted, and the auth events were chosen from that same state.
 */
export function checkLocalEvent(pdu: unknown, rv: RoomVersion, stateBefore: AuthStateLookup): LocalEventOutcome {
  const format = validatePduFormat(pdu, rv);
  if (!format.ok) return { outcome: 'dropped', stage: 'format', reason: formatReason(format.error) };
  let event: EventView;
  try {
    event = toEventView(format.pdu, rv);
  } catch (e) {
    return { outcome: 'dropped', stage: 'format', reason: `cannot compute the event ID: ${describe(e)}` };
  }
  return authAgainstState(rv, event, format.pdu, false, stateBefore, undefined);
}

function authAgainstState(
  rv: RoomVersion,
  event: EventView,
  pdu: PDU,
  redacted: boolean,
  stateBefore: AuthStateLookup,
  currentState: AuthStateLookup | undefined,
): RejectedAt<'state_before'> | Accepted {
  const before = checkAuthRules(rv, event, stateBefore);
  if (!before.allowed) return rejected('state_before', before.reason, event, pdu);
  if (currentState !== undefined) {
    const now = checkAuthRules(rv, event, currentState);
    if (!now.allowed) return { outcome: 'accepted', event, pdu, redacted, softFailed: true, softFailReason: now.reason };
  }
  return { outcome: 'accepted', event, pdu, redacted, softFailed: false };
}

/**
 * Rule "considering the event's auth_events": every one must be known, the list must be
 * well-formed (checkAuthEvents), and the auth rules must pass against exactly those events.
 * In v12 the create event comes from the room ID instead.
 */
function checkAgainstAuthEvents(
  rv: RoomVersion,
  event: EventView,
  getEvent: (eventId: string) => EventView | undefined,
): AuthResult {
  // Same test as checkAuthRules: any m.room.create goes to the create rules, which need no state.
  if (event.type === 'm.room.create') return checkAuthRules(rv, event, () => undefined);
  const authEvents: EventView[] = [];
  if (rv.roomIdFromCreateEvent) {
    const createId = createEventIdFromRoomId(event.room_id);
    const create = getEvent(createId);
    if (create === undefined || create.event_id !== createId) {
      return deny(`the room's create event ${createId} is unknown`);
    }
    if (create.rejected) return deny(`the room's create event ${createId} was rejected`);
    authEvents.push(create);
  }
  const listed: EventView[] = [];
  for (const id of event.auth_events) {
    const ae = getEvent(id);
    if (ae === undefined || ae.event_id !== id) return deny(`auth event ${id} is unknown`);
    listed.push(ae);
  }
  const list = checkAuthEvents(rv, event, listed);
  if (!list.allowed) return list;
  return checkAuthRules(rv, event, authStateFromEvents([...authEvents, ...listed]));
}

function rejected<S extends 'auth_events' | 'state_before'>(
  stage: S,
  reason: string,
  event: EventView,
  pdu: PDU,
): RejectedAt<S> {
  return { outcome: 'rejected', stage, reason, event: { ...event, rejected: true }, pdu };
}

function formatReason(error: { reason: string; message: string }): string {
  return `${error.reason}: ${error.message}`;
}

function verifyFailureReason(r: Extract<VerifyEventResult, { ok: false }>): string {
  if (r.stage === 'format') return formatReason(r.error);
  const { failure } = r;
  if (failure.reason === 'no_server_name') return 'a required signing server could not be determined from an ID';
  const key = failure.keyId === undefined ? '' : ` (${failure.keyId})`;
  return `signature from ${r.serverName}: ${failure.reason}${key}`;
}
