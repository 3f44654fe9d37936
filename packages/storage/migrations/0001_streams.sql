-- Processes (main and workers) get a small integer ID for use inside stream tokens.
CREATE TABLE instances (
    instance_id   SERIAL PRIMARY KEY,
    instance_name TEXT NOT NULL UNIQUE
);

-- How far each writer of each stream has persisted (DESIGN.md §3). Forward-only.
CREATE TABLE stream_positions (
    stream_name   TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    stream_id     BIGINT NOT NULL,
    PRIMARY KEY (stream_name, instance_name)
);

-- One sequence per persisted stream; multi-writer streams share theirs across writers.
CREATE SEQUENCE events_stream_seq;
CREATE SEQUENCE backfill_stream_seq;
CREATE SEQUENCE caches_stream_seq;
CREATE SEQUENCE receipts_stream_seq;
CREATE SEQUENCE to_device_stream_seq;
CREATE SEQUENCE account_data_stream_seq;
CREATE SEQUENCE presence_stream_seq;
CREATE SEQUENCE push_rules_stream_seq;
CREATE SEQUENCE pushers_stream_seq;
CREATE SEQUENCE device_lists_stream_seq;
CREATE SEQUENCE federation_stream_seq;
CREATE SEQUENCE un_partial_stated_room_stream_seq;
