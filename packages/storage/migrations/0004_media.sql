-- The media repository: local uploads and their thumbnails. Table and column names are Synapse's,
-- so its media admin tooling and an existing media_store map onto them.

CREATE TABLE local_media_repository (
    media_id             TEXT PRIMARY KEY,
    -- NULL while a /create'd ID waits for its upload.
    media_type           TEXT,
    -- NULL until the content is uploaded: "has content" is media_length IS NOT NULL.
    media_length         BIGINT,
    created_ts           BIGINT NOT NULL,
    upload_name          TEXT,
    user_id              TEXT,
    quarantined_by       TEXT,
    url_cache            TEXT,
    last_access_ts       BIGINT,
    safe_from_quarantine BOOLEAN NOT NULL DEFAULT FALSE,
    -- Uploaded while authenticated media was enforced: never served by the legacy unauthenticated endpoints.
    authenticated        BOOLEAN NOT NULL DEFAULT FALSE,
    -- Hex SHA-256 of the content; new uploads matching quarantined content are quarantined too.
    sha256               TEXT
);

-- Pending uploads per user (the /create limit), and media by user (admin listing, retention).
CREATE INDEX local_media_repository_user_created ON local_media_repository (user_id, created_ts);
CREATE INDEX local_media_repository_sha256 ON local_media_repository (sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE local_media_repository_thumbnails (
    media_id         TEXT NOT NULL,
    thumbnail_width  INTEGER NOT NULL,
    thumbnail_height INTEGER NOT NULL,
    thumbnail_type   TEXT NOT NULL,
    thumbnail_method TEXT NOT NULL,
    thumbnail_length BIGINT NOT NULL,
    UNIQUE (media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
);
