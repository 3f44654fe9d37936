-- Replication catch-up reads each stream's rows by position range (packages/sync/src/stream-changes.ts):
-- the tables keyed by user first get a plain stream index so that range is an index scan.
CREATE INDEX account_data_stream ON account_data (stream_id);
CREATE INDEX room_account_data_stream ON room_account_data (stream_id);
CREATE INDEX room_tags_revisions_stream ON room_tags_revisions (stream_id);
CREATE INDEX device_inbox_stream ON device_inbox (stream_id);
CREATE INDEX user_signature_stream_stream ON user_signature_stream (stream_id);
