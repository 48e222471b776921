-- members database, MySQL / MariaDB. Every statement may run again.

CREATE TABLE IF NOT EXISTS members (
  member_id  INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  handle     VARCHAR(32)  NOT NULL,
  mail       VARCHAR(100) NOT NULL,
  pass_hash  VARCHAR(60)  NOT NULL,
  pass_salt  CHAR(8)      DEFAULT NULL,
  group_id   TINYINT(3) UNSIGNED NOT NULL DEFAULT 2,
  banned     TINYINT(1)   NOT NULL DEFAULT 0,
  joined     INT(10) UNSIGNED NOT NULL,
  PRIMARY KEY (member_id),
  UNIQUE KEY handle (handle),
  KEY mail (mail)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_general_ci;

CREATE TABLE IF NOT EXISTS orders (
  order_id    INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  member_id   INT(10) UNSIGNED NOT NULL,
  item        VARCHAR(100) NOT NULL,
  qty         SMALLINT(5) UNSIGNED NOT NULL DEFAULT 1,
  total_cents INT(10) UNSIGNED NOT NULL,
  placed      INT(10) UNSIGNED NOT NULL,
  PRIMARY KEY (order_id),
  KEY member_id (member_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_general_ci;

-- Sessions when MEMBERS_SESSION_HANDLER=db (lib/session.php). sess_touched is UTC.
CREATE TABLE IF NOT EXISTS member_sessions (
  sess_id      VARCHAR(128) NOT NULL,
  sess_data    MEDIUMBLOB   NOT NULL,
  sess_touched DATETIME     NOT NULL,
  PRIMARY KEY (sess_id),
  KEY sess_touched (sess_touched)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_general_ci;
