-- Accounts (packages/accounts): users, profiles, devices, access/refresh/login tokens, user-interactive
-- auth sessions, registration tokens and shared-secret registration nonces.
-- Every token is stored as the sha256 of the token the client holds, never in clear.

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    -- `scrypt$N$r$p$salt$hash`; NULL when the account cannot log in with a password (guests, deactivated).
    password_hash TEXT,
    creation_ts   BIGINT NOT NULL,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest      BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL for ordinary users, else `support` or `bot` (Synapse's user types).
    user_type     TEXT,
    deactivated   BOOLEAN NOT NULL DEFAULT FALSE,
    -- Deactivated with `erase: true`.
    erased        BOOLEAN NOT NULL DEFAULT FALSE
);
-- Login and availability checks ignore case (as Synapse's do), so no two users may differ only by case.
CREATE UNIQUE INDEX users_lower_user_id_idx ON users (lower(user_id));

-- Localparts for guests and for registrations without a username: the next free number.
CREATE SEQUENCE user_id_seq;

CREATE TABLE profiles (
    user_id     TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    displayname TEXT,
    avatar_url  TEXT
);

-- A user's devices. last_seen_* are written in batches, at most once a minute per device.
CREATE TABLE devices (
    user_id              TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id            TEXT NOT NULL,
    display_name         TEXT,
    created_ts           BIGINT NOT NULL,
    last_seen_ts         BIGINT,
    last_seen_ip         TEXT,
    last_seen_user_agent TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Refresh tokens form a chain: `next_token_id` is the token a refresh issued in exchange. A token
-- stops being usable once its successor (or the successor's access token) has been used; deleting a
-- token deletes its predecessors and the access tokens it issued.
CREATE TABLE refresh_tokens (
    id            BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    next_token_id BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    expiry_ts     BIGINT,
    created_ts    BIGINT NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_next_idx ON refresh_tokens (next_token_id) WHERE next_token_id IS NOT NULL;
CREATE INDEX refresh_tokens_device_idx ON refresh_tokens (user_id, device_id);

-- Access tokens. Deleting a device deletes its tokens (the foreign key cascades); tokens without a
-- device (device_id NULL) belong to application services.
CREATE TABLE access_tokens (
    id               BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id        TEXT,
    token_hash       BYTEA NOT NULL UNIQUE,
    -- Expiry in ms since the epoch; NULL never expires. Set for tokens that come with a refresh token.
    valid_until_ms   BIGINT,
    refresh_token_id BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    -- First use of a refreshed token retires the refresh token it replaced.
    used             BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts       BIGINT NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_user_device_idx ON access_tokens (user_id, device_id);
CREATE INDEX access_tokens_refresh_idx ON access_tokens (refresh_token_id) WHERE refresh_token_id IS NOT NULL;

-- Short-lived, single-use tokens for `m.login.token`.
CREATE TABLE login_tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expiry_ts  BIGINT NOT NULL,
    used_ts    BIGINT
);
CREATE INDEX login_tokens_expiry_idx ON login_tokens (expiry_ts);
CREATE INDEX login_tokens_user_idx ON login_tokens (user_id);

-- User-interactive auth sessions. `clientdict` is the request body without `auth` (and without
-- passwords); `serverdict` holds what the server remembers (a password hash, the registration token
-- in use, the user registered); `completed` lists finished stages in order, `results` their outcome.
CREATE TABLE ui_auth_sessions (
    session_id  TEXT PRIMARY KEY,
    creation_ts BIGINT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The user an authenticated endpoint's session belongs to; NULL for registration.
    user_id     TEXT,
    clientdict  JSONB NOT NULL,
    serverdict  JSONB NOT NULL DEFAULT '{}',
    completed   JSONB NOT NULL DEFAULT '[]',
    results     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX ui_auth_sessions_creation_idx ON ui_auth_sessions (creation_ts);

-- Synapse's registration tokens (Admin API). `pending` counts UIA sessions holding a use.
CREATE TABLE registration_tokens (
    token        TEXT PRIMARY KEY,
    uses_allowed INTEGER,
    pending      INTEGER NOT NULL DEFAULT 0,
    completed    INTEGER NOT NULL DEFAULT 0,
    expiry_time  BIGINT
);

-- Nonces for shared-secret registration: single use, valid for a minute.
CREATE TABLE shared_secret_nonces (
    nonce      TEXT PRIMARY KEY,
    created_ts BIGINT NOT NULL
);
CREATE INDEX shared_secret_nonces_created_idx ON shared_secret_nonces (created_ts);
