<?php
/*
 * Router for PHP's built-in web server (development and tests only; production
 * runs Apache with public/ as the document root):
 *
 *   php -S 127.0.0.1:8080 -t legacy-php/public legacy-php/public/router.php
 *
 * Serves the pages listed below and answers 404 for anything else, so that
 * includes/, config.php and this file are never reachable.
 */

$routes = array(
    '/'                   => 'index.php',
    '/index.php'          => 'index.php',
    '/login.php'          => 'login.php',
    '/logout.php'         => 'logout.php',
    '/account.php'        => 'account.php',
    '/change-password.php' => 'change-password.php',
    '/api/me.php'         => 'api/me.php',
    '/api/health.php'     => 'api/health.php',
);

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (!is_string($path)) {
    $path = '/';
}

if (!isset($routes[$path])) {
    http_response_code(404);
    if (strncmp($path, '/api/', 5) === 0) {
        header('Content-Type: application/json; charset=utf-8');
        echo json_encode(array('error' => 'not_found'));
    } else {
        header('Content-Type: text/html; charset=utf-8');
        echo "<!DOCTYPE html>\n<html><head><title>Not Found</title></head><body><h1>Not Found</h1>"
            . '<p>The requested URL was not found on this server.</p></body></html>' . "\n";
    }
    return true;
}

$script = __DIR__ . '/' . $routes[$path];
$_SERVER['SCRIPT_NAME'] = '/' . $routes[$path];
$_SERVER['SCRIPT_FILENAME'] = $script;
$_SERVER['PHP_SELF'] = '/' . $routes[$path];
chdir(dirname($script));
require $script;
return true;
