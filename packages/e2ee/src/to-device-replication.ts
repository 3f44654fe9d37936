/**
 * Send-to-device over HTTP replication: a worker that does not write the `to_device` stream resolves
 * the recipients itself (a read) and forwards the resulting `SendToDeviceRequest` to the stream's
 * writer, which stores it once per client transaction and announces it; the worker then waits until
 * it has applied that position.
 */
import { errors, isJsonObject, type JsonObject } from '@hs/core';
import { arrayField, forwardWrite, objectField, registerWriteEndpoint, textField, userIdField, type Fields, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import type { SendToDeviceRequest, ToDeviceDelivery, ToDeviceSender } from './to-device.ts';

const STREAM = 'to_device';

function requestOf(f: Fields): SendToDeviceRequest {
  const deliveries: ToDeviceDelivery[] = arrayField(f, 'deliveries').map((d) => {
    if (!isJsonObject(d)) throw errors.badJson('deliveries must be objects');
    return { userId: userIdField(d, 'userId'), deviceId: textField(d, 'deviceId'), content: objectField(d, 'content') };
  });
  return { sender: userIdField(f, 'sender'), senderDevice: textField(f, 'senderDevice'), txnId: textField(f, 'txnId'), type: textField(f, 'type'), deliveries };
}

/** Endpoint `to_device_send`; the body is the `SendToDeviceRequest`. */
export function registerToDeviceReplicationEndpoints(server: ReplicationEndpointRegistry, local: ToDeviceSender): void {
  registerWriteEndpoint(server, 'to_device_send', (f) => local.send(requestOf(f)));
}

/** A `ToDeviceSender` for processes that do not write `to_device`. */
export class ReplicatedToDeviceSender implements ToDeviceSender {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  async send(req: SendToDeviceRequest): Promise<number | null> {
    const body: JsonObject = {
      sender: req.sender,
      senderDevice: req.senderDevice,
      txnId: req.txnId,
      type: req.type,
      deliveries: req.deliveries.map((d) => ({ userId: d.userId, deviceId: d.deviceId, content: d.content })),
    };
    return forwardWrite(this.opts, STREAM, 'to_device_send', body);
  }
}
