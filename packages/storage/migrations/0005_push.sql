-- Push rules (client-server API › Push Notifications). The server-default rules live in code
-- (@hs/push); only what users create or change is stored.

-- A user's own rules. Within a kind, a higher priority is evaluated first.
CREATE TABLE push_rules (
    user_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('override', 'content', 'room', 'sender', 'underride')),
    rule_id     TEXT    NOT NULL,
    priority    BIGINT  NOT NULL,
    conditions  JSON,              -- override and underride rules
    pattern     TEXT,              -- content rules
    actions     JSON    NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- A user's changes to server-default rules: NULL keeps the default's value.
CREATE TABLE push_rule_default_changes (
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    enabled BOOLEAN,
    actions JSON,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- The push_rules stream: one row per change, so /sync can tell whose m.push_rules changed since a token.
CREATE TABLE push_rules_stream (
    stream_id BIGINT PRIMARY KEY,
    user_id   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('put', 'delete', 'enabled', 'actions'))
);
CREATE INDEX push_rules_stream_user_idx ON push_rules_stream (user_id, stream_id);
