<?php
/*
 * One PDO connection per request, created on first use.
 */

function db()
{
    static $pdo = null;
    global $LEGACY_CONFIG;

    if ($pdo === null) {
        $dsn = $LEGACY_CONFIG['db_dsn'];
        $options = array(
            PDO::ATTR_ERRMODE            => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_EMULATE_PREPARES   => false,
        );
        if (db_driver_from_dsn($dsn) === 'sqlite') {
            // Several requests (and the migration tooling) share one file: wait for locks
            // instead of failing with "database is locked".
            $options[PDO::ATTR_TIMEOUT] = 5;
            $pdo = new PDO($dsn, null, null, $options);
            $pdo->exec('PRAGMA foreign_keys = ON');
        } else {
            $pdo = new PDO($dsn, $LEGACY_CONFIG['db_user'], $LEGACY_CONFIG['db_password'], $options);
            $pdo->exec("SET NAMES utf8mb4");
        }
    }
    return $pdo;
}

function db_driver_from_dsn($dsn)
{
    $pos = strpos($dsn, ':');
    return $pos === false ? '' : strtolower(substr($dsn, 0, $pos));
}

function db_driver()
{
    return db()->getAttribute(PDO::ATTR_DRIVER_NAME);
}

/* Current time in the format both MySQL DATETIME and our SQLite TEXT columns use. */
function db_now()
{
    return gmdate('Y-m-d H:i:s');
}

function db_find_user_by_id($user_id)
{
    $stmt = db()->prepare('SELECT * FROM users WHERE user_id = ?');
    $stmt->execute(array((int) $user_id));
    $row = $stmt->fetch();
    return $row ? $row : null;
}

/* Exactly one login name, as a front proxy names the user (never an e-mail address). */
function db_find_user_by_login($login)
{
    $stmt = db()->prepare('SELECT * FROM users WHERE user_login = ?');
    $stmt->execute(array((string) $login));
    $row = $stmt->fetch();
    return $row ? $row : null;
}

/*
 * Users log in with either their login name or their e-mail address. Old
 * sign-ups were allowed to share an e-mail address, so prefer an exact login
 * match and then the oldest account.
 */
function db_find_user_for_login($login_or_email)
{
    $stmt = db()->prepare(
        'SELECT * FROM users WHERE user_login = ? OR user_email = ?
          ORDER BY CASE WHEN user_login = ? THEN 0 ELSE 1 END, user_id LIMIT 1'
    );
    $stmt->execute(array($login_or_email, $login_or_email, $login_or_email));
    $row = $stmt->fetch();
    return $row ? $row : null;
}
