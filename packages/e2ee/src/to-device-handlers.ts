/** PUT /sendToDevice/{eventType}/{txnId}: resolve recipients to existing local devices, then store once per txn. */
import type { JsonObject } from '@hs/core';
import type { Handler } from '@hs/http';
import type { E2eeDeps } from './deps.ts';
import { requesterOf } from './requester.ts';
import type { ToDeviceDelivery, ToDeviceSender } from './to-device.ts';
import { requireServerOfUserId } from './user-id.ts';

export function createToDeviceHandlers(deps: E2eeDeps, sender: ToDeviceSender): Map<string, Handler> {
  const sendToDevice: Handler = async (ctx) => {
    const r = requesterOf(ctx);
    const { eventType = '', txnId = '' } = ctx.params;
    const messages = (ctx.body as { messages: Record<string, Record<string, JsonObject>> }).messages;
    const local: [string, Record<string, JsonObject>][] = [];
    for (const [userId, byDevice] of Object.entries(messages)) {
      const server = requireServerOfUserId(userId);
      if (server === deps.serverName) local.push([userId, byDevice]);
      else deps.log.info('dropping to-device message for a remote user: federation is not available', { type: eventType, user: userId });
    }
    const devices = local.length === 0 ? [] : await deps.listDevices(local.map(([u]) => u));
    const devicesOf = new Map<string, string[]>();
    for (const d of devices) {
      let list = devicesOf.get(d.userId);
      if (!list) devicesOf.set(d.userId, (list = []));
      list.push(d.deviceId);
    }
    const deliveries: ToDeviceDelivery[] = [];
    for (const [userId, byDevice] of local) {
      const known = devicesOf.get(userId) ?? [];
      // `*` reaches every device; a message addressed to a device by name takes precedence for it.
      const content = new Map<string, JsonObject>();
      const all = byDevice['*'];
      if (all) for (const deviceId of known) content.set(deviceId, all);
      for (const [deviceId, c] of Object.entries(byDevice)) {
        if (deviceId !== '*' && known.includes(deviceId)) content.set(deviceId, c);
      }
      for (const [deviceId, c] of content) deliveries.push({ userId, deviceId, content: c });
    }
    await sender.send({ sender: r.userId, senderDevice: r.deviceId ?? '', txnId, type: eventType, deliveries });
    return { body: {} };
  };
  return new Map<string, Handler>([['send_to_device', sendToDevice]]);
}
