-- Notification counts and pushers (@hs/push): the push actions computed for each new event, and
-- the pushers clients register, with their own `pushers` stream.

-- Push actions: which local users an event notified or highlighted, and how. Stored per event, not
-- per recipient: each distinct outcome (actions list) among an event's recipients is one row, and the
-- recipients with that outcome are a bitmap over the room's member numbering below. One message in
-- a 200-member room is one row, not 199, which is what keeps a busy room's sends fast. Rows every
-- joined recipient has read are deleted by a periodic cleanup after a while.
CREATE TABLE event_push_actions (
    room_id              TEXT     NOT NULL,
    stream_ordering      BIGINT   NOT NULL,
    -- 0, 1, … for the event's distinct outcomes.
    outcome              SMALLINT NOT NULL,
    topological_ordering BIGINT   NOT NULL,
    event_id             TEXT     NOT NULL,
    -- The thread root of a threaded event, else `main` (as receipts name threads).
    thread_id            TEXT     NOT NULL,
    notif                BOOLEAN  NOT NULL,
    highlight            BOOLEAN  NOT NULL,
    -- The outcome's actions as JSON text (what /notifications and the pusher send on).
    actions              TEXT     NOT NULL,
    -- Bit i (byte i / 8, bit i % 8, as get_bit reads bytea) is the member numbered i in push_room_members.
    recipients           BYTEA    NOT NULL,
    -- Counting a user's unread: a range scan of the room from their receipt; redactions by key.
    PRIMARY KEY (room_id, stream_ordering, outcome)
);
-- /notifications?only=highlight (highlights are few, so this index stays small).
CREATE INDEX event_push_actions_highlight ON event_push_actions (room_id, stream_ordering) WHERE highlight;
-- The cleanup walks rows oldest first.
CREATE INDEX event_push_actions_stream ON event_push_actions (stream_ordering);

-- Each room's numbering of the local users push actions were ever stored for: assigned once, never
-- reused, so a bit keeps meaning the same user.
CREATE TABLE push_room_members (
    user_id TEXT    NOT NULL,
    room_id TEXT    NOT NULL,
    idx     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id),
    CONSTRAINT push_room_members_idx_key UNIQUE (room_id, idx)
);

-- Pushers (POST /pushers/set). One per (user, app_id, pushkey); `stream_id` is the `pushers` stream
-- position of its last change, so the pusher worker can follow additions and updates.
CREATE TABLE pushers (
    user_id              TEXT    NOT NULL,
    app_id               TEXT    NOT NULL,
    pushkey              TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    app_display_name     TEXT    NOT NULL,
    device_display_name  TEXT    NOT NULL,
    profile_tag          TEXT,
    lang                 TEXT,
    -- Kept as the client sent it (json, not jsonb): it is forwarded to the push gateway.
    data                 JSON    NOT NULL,
    -- The device and access token that created it (removed with them).
    device_id            TEXT,
    access_token_id      BIGINT,
    created_ts           BIGINT  NOT NULL,
    enabled              BOOLEAN NOT NULL DEFAULT true,
    -- Pusher worker bookkeeping: events up to here were handled; delivery health.
    last_stream_ordering BIGINT  NOT NULL,
    last_success_ts      BIGINT,
    failing_since_ts     BIGINT,
    stream_id            BIGINT  NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
-- Removing other users' pushers with the same app_id and pushkey (set without `append`).
CREATE INDEX pushers_app_pushkey ON pushers (app_id, pushkey);
CREATE INDEX pushers_stream ON pushers (stream_id);

-- The deletions on the `pushers` stream (additions and updates are the `pushers` rows themselves).
CREATE TABLE deleted_pushers (
    stream_id BIGINT NOT NULL,
    user_id   TEXT   NOT NULL,
    app_id    TEXT   NOT NULL,
    pushkey   TEXT   NOT NULL
);
CREATE INDEX deleted_pushers_stream ON deleted_pushers (stream_id);
