<?php
/*
 * Included first by every page in htdocs/.
 */

require_once dirname(__FILE__) . '/settings.php';
require_once dirname(__FILE__) . '/database.php';
require_once dirname(__FILE__) . '/passwords.php';
require_once dirname(__FILE__) . '/session.php';

function e($text)
{
    return htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8');
}

function go($url)
{
    header('Location: ' . $url);
    exit;
}

function json_out($status, $data)
{
    header('Content-Type: application/json', true, $status);
    header('Cache-Control: private, no-cache');
    echo json_encode($data);
    exit;
}

/*
 * Where to send the member after login: a path on this site, else the account page.
 * Only "/..." is taken; full URLs (http://elsewhere/) are not. Note: "//host/..."
 * starts with "/" too and is let through; the browser reads it as another site.
 */
function members_redirect_target($wanted)
{
    $wanted = is_string($wanted) ? $wanted : '';
    if ($wanted === '' || $wanted[0] !== '/' || preg_match('/[\x00-\x1f]/', $wanted)) {
        return '/account.php';
    }
    return $wanted;
}

function members_page_top($title)
{
    $me = members_current();
    header('Content-Type: text/html; charset=UTF-8');
    echo '<html><head><title>' . e($title) . " :: Members</title></head>\n<body>\n";
    echo '<table width="100%" bgcolor="#ffcc66"><tr><td><b>Members</b> | <a href="/">home</a></td><td align="right">';
    if ($me) {
        echo 'Hi <b id="topbar-handle">' . e($me['handle']) . '</b> | <a href="/account.php">account</a> | <a href="/logout.php">log out</a>';
    } else {
        echo '<a href="/login.php">log in</a>';
    }
    echo "</td></tr></table>\n<h2>" . e($title) . "</h2>\n";
}

function members_page_bottom()
{
    echo "\n<hr><small>&copy; 2010 The Members Team</small></body></html>\n";
}
