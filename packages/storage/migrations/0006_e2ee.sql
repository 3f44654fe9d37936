-- End-to-end encryption (packages/e2ee): device keys, one-time and fallback keys, cross-signing keys and
-- signatures, the to-device inbox, device-list change streams and server-side key backups.
-- JSON that clients sign is kept as text exactly as canonical JSON, so it can be returned and re-verified.

-- A device's identity keys (`device_keys` of /keys/upload), one row per device.
CREATE TABLE e2e_device_keys (
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    key_json    TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Unclaimed one-time keys. `seq` orders claims oldest-first (keys of one upload share no order).
CREATE TABLE e2e_one_time_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    seq       BIGSERIAL NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_claim_idx ON e2e_one_time_keys (user_id, device_id, algorithm, seq);

-- At most one fallback key per device and algorithm; `used` once it was handed out by /keys/claim.
CREATE TABLE e2e_fallback_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    used      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- The current cross-signing keys of each user; `public_key` is the unpadded base64 ed25519 key.
CREATE TABLE e2e_cross_signing_keys (
    user_id    TEXT NOT NULL,
    key_type   TEXT NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
    public_key TEXT NOT NULL,
    key_json   TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded through /keys/signatures/upload, merged into keys when they are queried.
-- target_key_id is a device ID, or the public key of a master key.
CREATE TABLE e2e_cross_signing_signatures (
    signer_user_id TEXT NOT NULL,
    signer_key_id  TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    target_key_id  TEXT NOT NULL,
    signature      TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);
CREATE INDEX e2e_cross_signing_signatures_signer_idx ON e2e_cross_signing_signatures (signer_user_id, signer_key_id);

-- Pending to-device messages, one per recipient device and to_device stream ID; deleted once acknowledged.
CREATE TABLE device_inbox (
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    stream_id    BIGINT NOT NULL,
    message_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_id)
);

-- /sendToDevice transaction IDs per sending device, for idempotent retries.
CREATE TABLE device_inbox_txns (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    txn_id     TEXT NOT NULL,
    stream_id  BIGINT,
    ts_ms      BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

-- Device-list changes (device keys, devices added/removed/renamed, master and self-signing keys),
-- one row per device per device_lists stream ID.
CREATE TABLE device_lists_stream (
    stream_id BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (stream_id, user_id, device_id)
);
CREATE INDEX device_lists_stream_user_idx ON device_lists_stream (user_id, stream_id);

-- A user signed other users' master keys (or changed their user-signing key): only that user is told,
-- on the device_lists stream, so their other devices refresh the signed users.
CREATE TABLE user_signature_stream (
    stream_id      BIGINT NOT NULL,
    from_user_id   TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    PRIMARY KEY (from_user_id, stream_id, target_user_id)
);

-- Server-side key backup versions. Versions count up per user; a deleted version keeps its row.
CREATE TABLE e2e_room_keys_versions (
    user_id   TEXT NOT NULL,
    version   BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag      BIGINT NOT NULL DEFAULT 0,
    deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, version)
);

CREATE TABLE e2e_room_keys (
    user_id             TEXT NOT NULL,
    version             BIGINT NOT NULL,
    room_id             TEXT NOT NULL,
    session_id          TEXT NOT NULL,
    first_message_index BIGINT NOT NULL,
    forwarded_count     BIGINT NOT NULL,
    is_verified         BOOLEAN NOT NULL,
    session_data        TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);
