-- Legacy members database, SQLite (development and tests).
-- Same shape as mysql.sql. NOCASE on login and e-mail matches MySQL's
-- case-insensitive collation, so logins behave the same on both.
-- Safe to run again: every statement is IF NOT EXISTS.

CREATE TABLE IF NOT EXISTS users (
  user_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  user_login   VARCHAR(60)  NOT NULL COLLATE NOCASE UNIQUE,
  user_email   VARCHAR(190) NOT NULL DEFAULT '' COLLATE NOCASE,
  user_pass    VARCHAR(255) NOT NULL DEFAULT '',
  user_salt    VARCHAR(32)  NULL DEFAULT NULL,
  is_active    TINYINT(1)   NOT NULL DEFAULT 1,
  display_name VARCHAR(250) NOT NULL DEFAULT '',
  updated_at   DATETIME     NULL DEFAULT NULL
);

CREATE INDEX IF NOT EXISTS users_user_email ON users (user_email);

CREATE TABLE IF NOT EXISTS sessions (
  id          VARCHAR(128) NOT NULL PRIMARY KEY,
  data        BLOB         NOT NULL,
  last_access INTEGER      NOT NULL
);

CREATE INDEX IF NOT EXISTS sessions_last_access ON sessions (last_access);
