-- Custom profile fields (packages/accounts, spec v1.16 extended profiles): every key other than
-- displayname and avatar_url (which stay in `profiles`). The value is the field's JSON as text —
-- text rather than jsonb so that any JSON a client sends (U+0000 escapes included) round-trips.
-- Writes lock the user's `profiles` row, so the 64 KiB limit on the whole profile holds.
CREATE TABLE profile_fields (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    field   TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, field)
);
