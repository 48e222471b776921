<?php
/*
 * Sessions live in Redis (phpredis's save handler), serialized with
 * php_serialize so the shop's other scripts can unserialize() them whole:
 *
 *   a:3:{s:3:"uid";i:7;s:5:"uname";s:4:"anna";s:8:"is_admin";b:0;}
 *
 * A member is logged in when $_SESSION['uid'] (int, members.member_id) is set;
 * uname (the handle) and is_admin (group_id == GROUP_ADMIN) are set with it.
 */

function members_session_start()
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        return;
    }
    if (!extension_loaded('redis')) {
        header('HTTP/1.0 500 Internal Server Error');
        exit('phpredis is not installed');
    }
    ini_set('session.save_handler', 'redis');
    ini_set('session.save_path', 'tcp://' . MEMBERS_REDIS_HOST . ':' . MEMBERS_REDIS_PORT . '?prefix=' . rawurlencode(MEMBERS_SESSION_PREFIX));
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
