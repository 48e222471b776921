-- members database, SQLite (laptops and tests): mysql.sql's tables. NOCASE
-- gives handle the case-insensitive matching utf8_general_ci gives on MySQL.

CREATE TABLE IF NOT EXISTS members (
  member_id  INTEGER PRIMARY KEY AUTOINCREMENT,
  handle     VARCHAR(32)  NOT NULL COLLATE NOCASE UNIQUE,
  mail       VARCHAR(100) NOT NULL COLLATE NOCASE,
  pass_hash  VARCHAR(60)  NOT NULL,
  pass_salt  CHAR(8)      DEFAULT NULL,
  group_id   TINYINT      NOT NULL DEFAULT 2,
  banned     TINYINT      NOT NULL DEFAULT 0,
  joined     INTEGER      NOT NULL
);

CREATE INDEX IF NOT EXISTS members_mail ON members (mail);

CREATE TABLE IF NOT EXISTS orders (
  order_id    INTEGER PRIMARY KEY AUTOINCREMENT,
  member_id   INTEGER NOT NULL,
  item        VARCHAR(100) NOT NULL,
  qty         SMALLINT NOT NULL DEFAULT 1,
  total_cents INTEGER NOT NULL,
  placed      INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS orders_member_id ON orders (member_id);

-- Sessions when MEMBERS_SESSION_HANDLER=db (lib/session.php). sess_touched is UTC.
CREATE TABLE IF NOT EXISTS member_sessions (
  sess_id      VARCHAR(128) NOT NULL PRIMARY KEY,
  sess_data    BLOB         NOT NULL,
  sess_touched DATETIME     NOT NULL
);

CREATE INDEX IF NOT EXISTS member_sessions_touched ON member_sessions (sess_touched);
