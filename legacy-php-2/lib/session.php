<?php
/*
 * Sessions, serialized with php_serialize so the shop's other scripts can
 * unserialize() them whole:
 *
 *   a:3:{s:3:"uid";i:7;s:5:"uname";s:4:"anna";s:8:"is_admin";b:0;}
 *
 * A member is logged in when $_SESSION['uid'] (int, members.member_id) is set;
 * uname (the handle) and is_admin (group_id == GROUP_ADMIN) are set with it.
 *
 * Where they live is MEMBERS_SESSION_HANDLER: "redis" (live: phpredis's save
 * handler), "db" (the member_sessions table, for the boxes without Redis) or
 * "files" (PHP's own, in MEMBERS_SESSION_SAVE_PATH, for a one-server install).
 */

/* The member_sessions table: sess_touched is a DATETIME in UTC (gmdate). */
function members_sess_open($path, $name)
{
    return true;
}

function members_sess_close()
{
    return true;
}

function members_sess_read($id)
{
    $st = MembersDb::pdo()->prepare('SELECT sess_data FROM member_sessions WHERE sess_id = ? AND sess_touched >= ?');
    $st->execute(array($id, gmdate('Y-m-d H:i:s', time() - MEMBERS_SESSION_LIFETIME)));
    $data = $st->fetchColumn();
    if ($data === false || $data === null) {
        return '';
    }
    return is_resource($data) ? stream_get_contents($data) : (string) $data;
}

function members_sess_write($id, $data)
{
    // REPLACE INTO: MySQL and SQLite both have it.
    $st = MembersDb::pdo()->prepare('REPLACE INTO member_sessions (sess_id, sess_data, sess_touched) VALUES (?, ?, ?)');
    $st->bindValue(1, $id, PDO::PARAM_STR);
    $st->bindValue(2, $data, PDO::PARAM_LOB);
    $st->bindValue(3, gmdate('Y-m-d H:i:s'), PDO::PARAM_STR);
    return $st->execute();
}

function members_sess_destroy($id)
{
    $st = MembersDb::pdo()->prepare('DELETE FROM member_sessions WHERE sess_id = ?');
    return $st->execute(array($id));
}

function members_sess_gc($maxlifetime)
{
    $st = MembersDb::pdo()->prepare('DELETE FROM member_sessions WHERE sess_touched < ?');
    $st->execute(array(gmdate('Y-m-d H:i:s', time() - MEMBERS_SESSION_LIFETIME)));
    return $st->rowCount();
}

function members_session_start()
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        return;
    }
    if (MEMBERS_SESSION_HANDLER === 'db') {
        session_set_save_handler('members_sess_open', 'members_sess_close', 'members_sess_read', 'members_sess_write', 'members_sess_destroy', 'members_sess_gc');
    } elseif (MEMBERS_SESSION_HANDLER === 'files') {
        ini_set('session.save_handler', 'files');
        ini_set('session.save_path', MEMBERS_SESSION_SAVE_PATH);
    } else {
        if (!extension_loaded('redis')) {
            header('HTTP/1.0 500 Internal Server Error');
            exit('phpredis is not installed');
        }
        ini_set('session.save_handler', 'redis');
        ini_set('session.save_path', 'tcp://' . MEMBERS_REDIS_HOST . ':' . MEMBERS_REDIS_PORT . '?prefix=' . rawurlencode(MEMBERS_SESSION_PREFIX));
    }
    ini_set('session.serialize_handler', 'php_serialize');
    ini_set('session.gc_maxlifetime', (string) MEMBERS_SESSION_LIFETIME);
    ini_set('session.use_only_cookies', '1');
    ini_set('session.cookie_httponly', '1');
    session_name(MEMBERS_SESSION_NAME);
    session_set_cookie_params(0, '/');
    session_start();
}

/* Only visitors who already have our cookie get their session opened. */
function members_session_resume()
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        return true;
    }
    if (!isset($_COOKIE[MEMBERS_SESSION_NAME]) || $_COOKIE[MEMBERS_SESSION_NAME] === '') {
        return false;
    }
    members_session_start();
    return true;
}

/* The logged-in member's row, or null. Banned or deleted members are logged out on the spot. */
function members_current()
{
    static $member = false;
    if ($member !== false) {
        return $member;
    }
    $member = null;
    if (!members_session_resume() || empty($_SESSION['uid'])) {
        return null;
    }
    $row = MembersDb::memberById($_SESSION['uid']);
    if ($row === null || (int) $row['banned'] !== 0) {
        unset($_SESSION['uid'], $_SESSION['uname'], $_SESSION['is_admin']);
        return null;
    }
    $member = $row;
    return $member;
}

function members_login(array $row)
{
    members_session_start();
    session_regenerate_id(true);
    $_SESSION['uid'] = (int) $row['member_id'];
    $_SESSION['uname'] = $row['handle'];
    $_SESSION['is_admin'] = ((int) $row['group_id'] === GROUP_ADMIN);
}

function members_logout()
{
    if (!members_session_resume()) {
        return;
    }
    $_SESSION = array();
    setcookie(session_name(), '', time() - 86400, '/');
    session_destroy();
}
