/**
 * How a domain tells the rest of its process that a stream moved: after a write commits (or a
 * replicated row is applied), call `notify` with the stream, its new position, and who may care.
 * The sync notifier implements it to wake long-polls; tests pass a recorder.
 */
export interface StreamChange {
  readonly stream: string;
  readonly position: number;
  /** Rooms whose members may care (events, receipts, typing). */
  readonly rooms?: readonly string[];
  /** Users who may care (to-device, account data, device lists, presence). */
  readonly users?: readonly string[];
}

export type NotifyFn = (change: StreamChange) => void;

export const notifyNobody: NotifyFn = () => {};
