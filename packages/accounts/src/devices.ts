/**
 * Device management: list, get, rename (`PUT`), and delete one or many (behind UIA). Deleting a device
 * deletes its tokens; e2ee learns of every change through `onDevicesChanged`.
 */
import { MatrixError, errors } from '@hs/core';
import type { Handler, Requester } from '@hs/http';
import { notifyDevicesChanged, type AccountsDeps } from './deps.ts';
import { requireNotGuest } from './login.ts';
import { MAX_DEVICE_DISPLAY_NAME_LENGTH, deleteDevices } from './sessions.ts';
import type { UserInteractiveAuth } from './uia.ts';

interface DeviceRow {
  device_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
}

function deviceJson(d: DeviceRow): Record<string, unknown> {
  return {
    device_id: d.device_id,
    ...(d.display_name !== null ? { display_name: d.display_name } : {}),
    ...(d.last_seen_ip !== null ? { last_seen_ip: d.last_seen_ip } : {}),
    ...(d.last_seen_ts !== null ? { last_seen_ts: d.last_seen_ts } : {}),
  };
}

const NO_DEVICE = () => errors.notFound('No device found');

export function deviceHandlers(deps: AccountsDeps, uia: UserInteractiveAuth): Record<string, Handler> {
  const sql = deps.sql;
  return {
    devices_list: async (ctx) => {
      const r = ctx.requester as Requester;
      const rows = await sql<DeviceRow[]>`
        SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices WHERE user_id = ${r.userId} ORDER BY device_id`;
      return { body: { devices: rows.map(deviceJson) } };
    },

    device_get: async (ctx) => {
      const r = ctx.requester as Requester;
      const [row] = await sql<DeviceRow[]>`
        SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices
        WHERE user_id = ${r.userId} AND device_id = ${ctx.params.deviceId as string}`;
      if (!row) throw NO_DEVICE();
      return { body: deviceJson(row) };
    },

    device_update: async (ctx) => {
      const r = ctx.requester as Requester;
      const deviceId = ctx.params.deviceId as string;
      const name = (ctx.body as { display_name?: string }).display_name;
      if (name !== undefined && name.length > MAX_DEVICE_DISPLAY_NAME_LENGTH) {
        throw new MatrixError(400, 'M_TOO_LARGE', `Device display name is too long (max ${MAX_DEVICE_DISPLAY_NAME_LENGTH})`);
      }
      const rows =
        name === undefined
          ? await sql`SELECT device_id FROM devices WHERE user_id = ${r.userId} AND device_id = ${deviceId}`
          : await sql`UPDATE devices SET display_name = ${name} WHERE user_id = ${r.userId} AND device_id = ${deviceId} RETURNING device_id`;
      // Creating devices this way is reserved to application services.
      if (rows.length === 0) throw NO_DEVICE();
      if (name !== undefined) await notifyDevicesChanged(deps, r.userId, [deviceId]);
      return { body: {} };
    },

    device_delete: async (ctx) => {
      const r = requireNotGuest(ctx.requester);
      await uia.requireUser(ctx, 'remove a device from your account');
      await deleteDevices(deps, r.userId, [ctx.params.deviceId as string]);
      return { body: {} };
    },

    delete_devices: async (ctx) => {
      const r = requireNotGuest(ctx.requester);
      const result = await uia.requireUser(ctx, 'remove devices from your account');
      const devices = result.params.devices;
      if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) throw errors.badJson('devices must be an array of strings');
      await deleteDevices(deps, r.userId, devices as string[]);
      return { body: {} };
    },
  };
}
