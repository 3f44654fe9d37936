-- Rooms core (packages/rooms): events, the room DAG, state groups, current state and memberships.
-- docs/storage.md explains every table, index and convention. No foreign keys: events arrive out of
-- order over federation (outliers, missing prev events) and the hot write path stays cheap.

-- One row per room this server knows.
CREATE TABLE rooms (
    room_id      TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator      TEXT,
    -- Listed in the published room directory.
    is_public    BOOLEAN NOT NULL DEFAULT false,
    created_ts   BIGINT NOT NULL
);
CREATE INDEX rooms_public_idx ON rooms (room_id) WHERE is_public;

-- Every event we hold. `json` is the full PDU as canonical JSON, never rewritten (redactions are
-- applied when reading); the other columns are what queries filter and order on.
CREATE TABLE events (
    -- Position in the `events` stream (events_stream_seq): the order clients and replication see.
    stream_ordering      BIGINT NOT NULL,
    -- The event's depth: the room's partial order, used by /messages and /context.
    topological_ordering BIGINT NOT NULL,
    event_id             TEXT PRIMARY KEY,
    room_id              TEXT NOT NULL,
    type                 TEXT NOT NULL,
    -- NULL for message events.
    state_key            TEXT,
    sender               TEXT NOT NULL,
    origin_server_ts     BIGINT NOT NULL,
    received_ts          BIGINT NOT NULL,
    -- content.membership of m.room.member events, so the stream feed needs no JSON.
    membership           TEXT,
    -- The target of an m.room.redaction (top-level or content, per room version).
    redacts              TEXT,
    -- The state event this one replaced in the state before it (unsigned.replaces_state).
    replaces_state       TEXT,
    -- content.url is a string (the `contains_url` room event filter).
    contains_url         BOOLEAN NOT NULL DEFAULT false,
    rejected_reason      TEXT,
    -- Held only for auth or as a missing piece: not part of the room timeline, no state group.
    outlier              BOOLEAN NOT NULL DEFAULT false,
    -- The events writer that persisted it.
    instance_name        TEXT NOT NULL,
    -- The client transaction that sent it (unsigned.transaction_id for the sending device only).
    txn_id               TEXT,
    txn_scope            TEXT,
    json                 TEXT NOT NULL,
    CONSTRAINT events_stream_ordering_key UNIQUE (stream_ordering)
);
CREATE INDEX events_room_stream_idx ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo_idx ON events (room_id, topological_ordering, stream_ordering);
CREATE INDEX events_room_type_state_idx ON events (room_id, type, state_key);

-- The DAG: each event's prev_events.
CREATE TABLE event_edges (
    event_id      TEXT NOT NULL,
    prev_event_id TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev_idx ON event_edges (prev_event_id);

-- The room's forward extremities: events nothing points to yet; the next local event's prev_events.
CREATE TABLE event_forward_extremities (
    room_id  TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- State groups: immutable snapshots of room state. A group is either a full snapshot
-- (delta_depth 0, no edge) or a delta on top of one predecessor (one state_group_edges row,
-- delta_depth = predecessor's + 1, at most the persister's limit).
CREATE SEQUENCE state_group_id_seq;
CREATE TABLE state_groups (
    id          BIGINT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    -- The event whose persistence created the group.
    event_id    TEXT NOT NULL,
    delta_depth INTEGER NOT NULL
);
CREATE INDEX state_groups_room_idx ON state_groups (room_id);

CREATE TABLE state_group_edges (
    state_group      BIGINT PRIMARY KEY,
    prev_state_group BIGINT NOT NULL
);
CREATE INDEX state_group_edges_prev_idx ON state_group_edges (prev_state_group);

-- A full snapshot's every entry, or a delta's changed entries (deltas only add or replace).
CREATE TABLE state_groups_state (
    state_group BIGINT NOT NULL,
    room_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    state_key   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
);

-- The room state AFTER each event: for a state event it includes the event itself, for any other
-- event it equals the state before. Outliers and rejected-as-unauthorised-without-state have none.
CREATE TABLE event_to_state_groups (
    event_id    TEXT PRIMARY KEY,
    state_group BIGINT NOT NULL
);
CREATE INDEX event_to_state_groups_group_idx ON event_to_state_groups (state_group);

-- The room's current state (the state after its forward extremity), one row per (type, state_key).
CREATE TABLE current_state_events (
    room_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    state_key  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    membership TEXT,
    PRIMARY KEY (room_id, type, state_key)
);
-- Rooms a (possibly remote) user is a member of.
CREATE INDEX current_state_events_member_idx ON current_state_events (state_key) WHERE type = 'm.room.member';

-- Every change to current state, by the stream position of the write that made it (incremental
-- /sync state, replication). event_id NULL = the entry was removed.
CREATE TABLE current_state_delta_stream (
    stream_id     BIGINT NOT NULL,
    room_id       TEXT NOT NULL,
    type          TEXT NOT NULL,
    state_key     TEXT NOT NULL,
    event_id      TEXT,
    prev_event_id TEXT,
    instance_name TEXT NOT NULL
);
CREATE INDEX current_state_delta_stream_idx ON current_state_delta_stream (stream_id);
CREATE INDEX current_state_delta_stream_room_idx ON current_state_delta_stream (room_id, stream_id);

-- Every membership event (history of each user in each room).
CREATE TABLE room_memberships (
    event_id        TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    sender          TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    membership      TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    displayname     TEXT,
    avatar_url      TEXT
);
CREATE INDEX room_memberships_user_room_idx ON room_memberships (user_id, room_id, stream_ordering);

-- Local users' current membership per room: joined_rooms, /sync room lists, forget.
CREATE TABLE local_current_membership (
    room_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    membership      TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    forgotten       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX local_current_membership_room_idx ON local_current_membership (room_id, membership);

-- Send idempotency: a retried PUT /send with the same transaction gets the same event.
CREATE TABLE event_txn_id (
    user_id     TEXT NOT NULL,
    -- The device ID, or `token:<id>` for a device-less access token.
    txn_scope   TEXT NOT NULL,
    room_id     TEXT NOT NULL,
    txn_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    inserted_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, txn_scope, room_id, txn_id)
);
CREATE INDEX event_txn_id_ts_idx ON event_txn_id (inserted_ts);

-- Redactions that apply (the writer checked the rules for handling redactions). The redacted
-- event's JSON stays; readers prune it. have_censored: the stored JSON was pruned for good.
CREATE TABLE redactions (
    event_id      TEXT PRIMARY KEY,
    redacts       TEXT NOT NULL,
    received_ts   BIGINT NOT NULL,
    have_censored BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX redactions_redacts_idx ON redactions (redacts);
CREATE INDEX redactions_uncensored_idx ON redactions (received_ts) WHERE NOT have_censored;

-- content["m.relates_to"] of each event (relations, threads, edits, annotations).
CREATE TABLE event_relations (
    event_id        TEXT PRIMARY KEY,
    relates_to_id   TEXT NOT NULL,
    relation_type   TEXT NOT NULL,
    aggregation_key TEXT
);
CREATE INDEX event_relations_relates_idx ON event_relations (relates_to_id, relation_type, aggregation_key);

-- Local room aliases (#alias:our.server → room).
CREATE TABLE room_aliases (
    room_alias TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    creator    TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_room_idx ON room_aliases (room_id);
