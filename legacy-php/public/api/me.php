<?php
/*
 * Who am I? Used by the JavaScript on the old pages (and handy for monitoring), and by API
 * clients through a trusted front proxy that names the user (proxy_user(), config.php).
 *   200 {"user_id": 42, "login": "alice", "email": "alice@example.com"}
 *   401 {"error": "not_authenticated"}
 */
require_once dirname(__FILE__) . '/../../includes/common.php';

$user = proxy_user();
if ($user === null) {
    $user = current_user();
}
if ($user === null) {
    json_response(401, array('error' => 'not_authenticated'));
}
json_response(200, array(
    'user_id' => (int) $user['user_id'],
    'login'   => $user['user_login'],
    'email'   => $user['user_email'],
));
