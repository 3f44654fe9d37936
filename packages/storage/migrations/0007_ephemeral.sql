-- Ephemeral and per-user data: receipts, presence, account data, tags, filters, OpenID tokens, reports.
-- (Typing lives in memory on its writer and has no table.)

-- Read receipts: one row per (room, type, user, thread) holding the newest receipt, stamped with the
-- `receipts` stream ID of its last change. It is both the current view (receipts only move forward,
-- compared by `event_stream_ordering`) and the stream: a reader asks for rows changed in (from, to].
-- `thread_id` NULL is the unthreaded receipt, distinct from the thread `main`.
CREATE TABLE receipts_linearized (
    stream_id             BIGINT NOT NULL,
    room_id               TEXT NOT NULL,
    receipt_type          TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    thread_id             TEXT,
    event_id              TEXT NOT NULL,
    -- NULL when the event is unknown here (a remote server's receipt for an event we lack).
    event_stream_ordering BIGINT,
    data                  JSONB NOT NULL,
    CONSTRAINT receipts_linearized_key UNIQUE NULLS NOT DISTINCT (room_id, receipt_type, user_id, thread_id)
);
-- /sync: receipts of these rooms changed in (from, to].
CREATE INDEX receipts_linearized_room_stream ON receipts_linearized (room_id, stream_id);
-- Replication and appservices: everything changed after a position.
CREATE INDEX receipts_linearized_stream ON receipts_linearized (stream_id);
-- Notification counts: a user's own receipts.
CREATE INDEX receipts_linearized_user ON receipts_linearized (user_id, room_id);

-- Presence: the latest state per user, stamped with the `presence` stream ID of its last notified change.
CREATE TABLE presence_stream (
    user_id                   TEXT PRIMARY KEY,
    stream_id                 BIGINT NOT NULL,
    state                     TEXT NOT NULL,
    status_msg                TEXT,
    last_active_ts            BIGINT NOT NULL,
    last_federation_update_ts BIGINT NOT NULL,
    last_user_sync_ts         BIGINT NOT NULL,
    currently_active          BOOLEAN NOT NULL
);
CREATE INDEX presence_stream_stream ON presence_stream (stream_id);

-- Global account data: latest content per (user, type), stamped with its `account_data` stream ID.
CREATE TABLE account_data (
    user_id           TEXT NOT NULL,
    account_data_type TEXT NOT NULL,
    stream_id         BIGINT NOT NULL,
    content           JSONB NOT NULL,
    PRIMARY KEY (user_id, account_data_type)
);
CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);

CREATE TABLE room_account_data (
    user_id           TEXT NOT NULL,
    room_id           TEXT NOT NULL,
    account_data_type TEXT NOT NULL,
    stream_id         BIGINT NOT NULL,
    content           JSONB NOT NULL,
    PRIMARY KEY (user_id, room_id, account_data_type)
);
CREATE INDEX room_account_data_user_stream ON room_account_data (user_id, stream_id);

-- Room tags (delivered as room account data `m.tag`); a revision row per (user, room) marks the
-- `account_data` stream ID of the last change to that room's tags.
CREATE TABLE room_tags (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    tag     TEXT NOT NULL,
    content JSONB NOT NULL,
    PRIMARY KEY (user_id, room_id, tag)
);
CREATE TABLE room_tags_revisions (
    user_id   TEXT NOT NULL,
    room_id   TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX room_tags_revisions_user_stream ON room_tags_revisions (user_id, stream_id);

-- Filters: per-user sequential IDs; identical filters (same canonical JSON hash) share one ID.
CREATE TABLE user_filters (
    user_id     TEXT NOT NULL,
    filter_id   BIGINT NOT NULL,
    filter_json JSONB NOT NULL,
    filter_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
CREATE INDEX user_filters_hash ON user_filters (user_id, filter_hash);

-- OpenID tokens for the federation userinfo endpoint, stored as sha256 of the token.
CREATE TABLE open_id_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    ts_valid_until_ms BIGINT NOT NULL
);
CREATE INDEX open_id_tokens_expiry ON open_id_tokens (ts_valid_until_ms);

-- Content reports, read by the Admin API.
CREATE TABLE event_reports (
    id          BIGSERIAL PRIMARY KEY,
    received_ts BIGINT NOT NULL,
    room_id     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    reason      TEXT,
    score       INTEGER,
    content     JSONB NOT NULL
);
CREATE INDEX event_reports_received ON event_reports (received_ts);
CREATE INDEX event_reports_room ON event_reports (room_id);

CREATE TABLE room_reports (
    id          BIGSERIAL PRIMARY KEY,
    received_ts BIGINT NOT NULL,
    room_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX room_reports_received ON room_reports (received_ts);

CREATE TABLE user_reports (
    id             BIGSERIAL PRIMARY KEY,
    received_ts    BIGINT NOT NULL,
    target_user_id TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE INDEX user_reports_received ON user_reports (received_ts);
