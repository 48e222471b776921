<?php
/*
 * Site configuration. Everything comes from the environment so the same code
 * runs on the dev box, the test harness and production (set the variables in
 * the vhost with SetEnv, in php-fpm's pool file with env[...], or in the shell
 * for `php -S`).
 *
 *   LEGACY_DB_DSN            PDO DSN, e.g. mysql:host=127.0.0.1;port=3306;dbname=legacy
 *                            or sqlite:/var/lib/legacy/legacy.sqlite
 *   LEGACY_DB_USER           database user (ignored for sqlite)
 *   LEGACY_DB_PASSWORD       database password (ignored for sqlite)
 *   LEGACY_SESSION_STORE     "db" (default: the sessions table), "redis" or "files"
 *                            (PHP's own files, for a single web server)
 *   LEGACY_SESSION_SAVE_PATH directory of the session files (LEGACY_SESSION_STORE=files),
 *                            default /var/lib/php/sessions
 *   LEGACY_REDIS_HOST        default 127.0.0.1 (only for LEGACY_SESSION_STORE=redis)
 *   LEGACY_REDIS_PORT        default 6379
 *   LEGACY_SESSION_NAME      session cookie name, default PHPSESSID
 *   LEGACY_SESSION_LIFETIME  idle seconds before a session is dead, default 1440
 *   LEGACY_TRUSTED_USER_HEADER  header a front proxy that authenticated the request sets to the
 *                            user's login (e.g. X-Remote-User); the JSON API believes it. Unset:
 *                            believed from nobody (the default).
 *   LEGACY_TRUSTED_PROXIES   comma-separated REMOTE_ADDRs allowed to set it, default none
 */

function legacy_env($name, $default = null)
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        return $default;
    }
    return $value;
}

$LEGACY_CONFIG = array(
    'db_dsn'           => legacy_env('LEGACY_DB_DSN', 'mysql:host=127.0.0.1;port=3306;dbname=legacy'),
    'db_user'          => legacy_env('LEGACY_DB_USER', 'root'),
    'db_password'      => legacy_env('LEGACY_DB_PASSWORD', ''),
    'session_store'    => strtolower(legacy_env('LEGACY_SESSION_STORE', 'db')),
    'session_save_path' => legacy_env('LEGACY_SESSION_SAVE_PATH', '/var/lib/php/sessions'),
    'redis_host'       => legacy_env('LEGACY_REDIS_HOST', '127.0.0.1'),
    'redis_port'       => (int) legacy_env('LEGACY_REDIS_PORT', '6379'),
    'session_name'     => legacy_env('LEGACY_SESSION_NAME', 'PHPSESSID'),
    'session_lifetime' => (int) legacy_env('LEGACY_SESSION_LIFETIME', '1440'),
    'trusted_user_header' => legacy_env('LEGACY_TRUSTED_USER_HEADER', ''),
    'trusted_proxies'  => array_filter(array_map('trim', explode(',', legacy_env('LEGACY_TRUSTED_PROXIES', '')))),
    'site_name'        => 'Example Members Area',
);

if (!in_array($LEGACY_CONFIG['session_store'], array('db', 'redis', 'files'), true)) {
    // Fail loudly: silently falling back to files would log everybody out on the next deploy.
    header('HTTP/1.1 500 Internal Server Error');
    die('LEGACY_SESSION_STORE must be "db", "redis" or "files"');
}
if ($LEGACY_CONFIG['session_lifetime'] < 60) {
    $LEGACY_CONFIG['session_lifetime'] = 1440;
}
