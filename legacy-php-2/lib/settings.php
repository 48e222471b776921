<?php
/*
 * Settings. Ops set these in the vhost (SetEnv) or the shell; nothing is
 * hard-wired so staging and live run the same tree. See README.md.
 */

function members_setting($name, $fallback)
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $fallback : $value;
}

define('MEMBERS_DSN', members_setting('MEMBERS_DSN', 'mysql:host=127.0.0.1;port=3306;dbname=members'));
define('MEMBERS_DB_USER', members_setting('MEMBERS_DB_USER', 'root'));
define('MEMBERS_DB_PASS', members_setting('MEMBERS_DB_PASS', ''));
define('MEMBERS_REDIS_HOST', members_setting('MEMBERS_REDIS_HOST', '127.0.0.1'));
define('MEMBERS_REDIS_PORT', (int) members_setting('MEMBERS_REDIS_PORT', '6379'));
// redis (live), db (the member_sessions table) or files (MEMBERS_SESSION_SAVE_PATH).
define('MEMBERS_SESSION_HANDLER', members_setting('MEMBERS_SESSION_HANDLER', 'redis'));
define('MEMBERS_SESSION_SAVE_PATH', members_setting('MEMBERS_SESSION_SAVE_PATH', '/var/lib/php/sessions'));
define('MEMBERS_SESSION_PREFIX', members_setting('MEMBERS_SESSION_PREFIX', 'members_sess:'));
define('MEMBERS_SESSION_NAME', members_setting('MEMBERS_SESSION_NAME', 'MEMBERSID'));
define('MEMBERS_SESSION_LIFETIME', max(60, (int) members_setting('MEMBERS_SESSION_LIFETIME', '3600')));
// Comma-separated addresses of the reverse proxy allowed to name the user in a header.
// Empty (the default): nobody is, and only the session counts.
define('MEMBERS_TRUSTED_PROXIES', members_setting('MEMBERS_TRUSTED_PROXIES', ''));
define('MEMBERS_PROXY_USER_HEADER', members_setting('MEMBERS_PROXY_USER_HEADER', 'X-Remote-User'));

// group_id values (the `groups` table was dropped in 2009; these never changed).
define('GROUP_ADMIN', 1);
define('GROUP_MEMBER', 2);
