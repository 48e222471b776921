<?php
/*
 * Who is logged in, and the CSRF token for our forms.
 */

/*
 * Returns the users row of the logged-in user, or null. A session whose user
 * was deleted or deactivated since is logged out on the spot.
 */
function current_user()
{
    static $user = false;
    if ($user !== false) {
        return $user;
    }
    $user = null;
    if (session_status() !== PHP_SESSION_ACTIVE && !legacy_session_resume()) {
        return null;
    }
    if (empty($_SESSION['user_id']) || !isset($_SESSION['login'])) {
        return null;
    }
    $row = db_find_user_by_id($_SESSION['user_id']);
    if ($row === null || (int) $row['is_active'] !== 1) {
        unset($_SESSION['user_id'], $_SESSION['login']);
        return null;
    }
    $user = $row;
    return $user;
}

/*
 * The user a trusted front proxy vouches for (LEGACY_TRUSTED_USER_HEADER, sent from one of
 * LEGACY_TRUSTED_PROXIES), or null: the API's clients that sign in elsewhere (the proxy checked
 * their token) are believed only when the request came from that proxy.
 */
function proxy_user()
{
    global $LEGACY_CONFIG;
    $header = $LEGACY_CONFIG['trusted_user_header'];
    $peer = isset($_SERVER['REMOTE_ADDR']) ? $_SERVER['REMOTE_ADDR'] : '';
    if ($header === '' || !in_array($peer, $LEGACY_CONFIG['trusted_proxies'], true)) {
        return null;
    }
    $key = 'HTTP_' . strtoupper(str_replace('-', '_', $header));
    if (!isset($_SERVER[$key]) || $_SERVER[$key] === '') {
        return null;
    }
    $row = db_find_user_by_login($_SERVER[$key]);
    if ($row === null || (int) $row['is_active'] !== 1) {
        return null;
    }
    return $row;
}

/* For pages that need a login: sends guests to the login form. */
function require_login()
{
    $user = current_user();
    if ($user === null) {
        redirect('login.php');
    }
    return $user;
}

/* Marks the session as logged in as $row (a users row). */
function login_user($row)
{
    // New id on privilege change, and drop the old session row.
    session_regenerate_id(true);
    $_SESSION['user_id'] = (int) $row['user_id'];
    $_SESSION['login'] = (string) $row['user_login'];
    unset($_SESSION['csrf_token']);
}

function csrf_token()
{
    legacy_session_start();
    if (empty($_SESSION['csrf_token'])) {
        $_SESSION['csrf_token'] = bin2hex(random_bytes(16));
    }
    return $_SESSION['csrf_token'];
}

function csrf_field()
{
    return '<input type="hidden" name="csrf_token" value="' . h(csrf_token()) . '">';
}

/* True when the POSTed csrf_token matches the one in the session. */
function csrf_check()
{
    if (session_status() !== PHP_SESSION_ACTIVE || empty($_SESSION['csrf_token'])) {
        return false;
    }
    $sent = isset($_POST['csrf_token']) ? (string) $_POST['csrf_token'] : '';
    return $sent !== '' && hash_equals($_SESSION['csrf_token'], $sent);
}
