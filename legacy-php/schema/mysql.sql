-- Legacy members database, MySQL / MariaDB.
-- Safe to run again: every statement is IF NOT EXISTS.

CREATE TABLE IF NOT EXISTS users (
  user_id      INT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_login   VARCHAR(60)  NOT NULL,
  user_email   VARCHAR(190) NOT NULL DEFAULT '',
  user_pass    VARCHAR(255) NOT NULL DEFAULT '',
  user_salt    VARCHAR(32)  NULL DEFAULT NULL,
  is_active    TINYINT(1)   NOT NULL DEFAULT 1,
  display_name VARCHAR(250) NOT NULL DEFAULT '',
  updated_at   DATETIME     NULL DEFAULT NULL,
  PRIMARY KEY (user_id),
  UNIQUE KEY user_login (user_login),
  KEY user_email (user_email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sessions (
  id          VARCHAR(128) NOT NULL,
  data        MEDIUMBLOB   NOT NULL,
  last_access INT UNSIGNED NOT NULL,
  PRIMARY KEY (id),
  KEY last_access (last_access)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
