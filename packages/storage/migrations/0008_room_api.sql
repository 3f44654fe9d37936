-- Room reading, directory and lifecycle (@hs/room-api). The tables below are DERIVED data: the
-- RoomApiIndexer fills them by following the `events` stream (events and current_state_delta_stream
-- rows by stream position) and records how far it got in the same transaction, so a crash never
-- loses or doubles a row (see packages/room-api/src/indexer.ts).

-- How far the indexer has applied the `events` stream (one row).
CREATE TABLE room_api_index_position (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    stream_id BIGINT NOT NULL
);
INSERT INTO room_api_index_position (singleton, stream_id) VALUES (true, 0);

-- Full-text search (POST /search): one row per m.room.message body, m.room.name name and
-- m.room.topic topic. `key` is the search key (content.body, content.name, content.topic).
CREATE TABLE event_search (
    event_id         TEXT PRIMARY KEY,
    room_id          TEXT NOT NULL,
    sender           TEXT NOT NULL,
    key              TEXT NOT NULL,
    vector           TSVECTOR NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    stream_ordering  BIGINT NOT NULL
);
CREATE INDEX event_search_vector_idx ON event_search USING GIN (vector);
-- order_by=recent within the searched rooms.
CREATE INDEX event_search_room_recent_idx ON event_search (room_id, origin_server_ts, stream_ordering);

-- Thread roots of each room with their latest (topologically) reply (GET /threads).
CREATE TABLE threads (
    room_id              TEXT NOT NULL,
    thread_id            TEXT NOT NULL,
    latest_event_id      TEXT NOT NULL,
    topological_ordering BIGINT NOT NULL,
    stream_ordering      BIGINT NOT NULL,
    PRIMARY KEY (room_id, thread_id)
);
CREATE INDEX threads_room_latest_idx ON threads (room_id, topological_ordering, stream_ordering);

-- A summary of each room's current state (published room directory, user directory).
CREATE TABLE room_stats (
    room_id            TEXT PRIMARY KEY,
    joined_members     INTEGER NOT NULL DEFAULT 0,
    name               TEXT,
    topic              TEXT,
    canonical_alias    TEXT,
    avatar_url         TEXT,
    join_rule          TEXT,
    history_visibility TEXT,
    guest_access       TEXT,
    room_type          TEXT
);
-- Rooms whose members anyone may find in the user directory.
CREATE INDEX room_stats_open_idx ON room_stats (room_id) WHERE join_rule = 'public' OR history_visibility = 'world_readable';

-- User directory profiles: the displayname/avatar of each user's latest join event, and the words
-- a search can prefix-match (localpart and its parts, display name words).
CREATE TABLE user_directory (
    user_id         TEXT PRIMARY KEY,
    display_name    TEXT,
    avatar_url      TEXT,
    stream_ordering BIGINT NOT NULL,
    vector          TSVECTOR NOT NULL
);
CREATE INDEX user_directory_vector_idx ON user_directory USING GIN (vector);

-- GET /timestamp_to_event: the closest event of a room to a timestamp.
CREATE INDEX events_room_origin_ts_idx ON events (room_id, origin_server_ts);
