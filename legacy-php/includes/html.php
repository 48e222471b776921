<?php
/*
 * Tiny output helpers and the page chrome.
 */

function h($text)
{
    return htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8');
}

/* Redirects to a page of this site (relative URL, so it works under any prefix) and stops. */
function redirect($page)
{
    header('Location: ' . $page, true, 302);
    exit;
}

function json_response($status, $data)
{
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    header('Cache-Control: no-store');
    echo json_encode($data);
    exit;
}

function page_header($title)
{
    global $LEGACY_CONFIG;
    $user = current_user();
    header('Content-Type: text/html; charset=utf-8');
    ?>
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title><?php echo h($title); ?> - <?php echo h($LEGACY_CONFIG['site_name']); ?></title>
<style>
body { font-family: Verdana, Arial, sans-serif; font-size: 13px; margin: 0; background: #eef; }
#top { background: #336; color: #fff; padding: 8px 16px; }
#top a { color: #fff; margin-right: 12px; }
#top form { display: inline; }
#content { background: #fff; margin: 16px; padding: 16px; border: 1px solid #99c; }
.error { color: #a00; font-weight: bold; }
.notice { color: #060; font-weight: bold; }
label { display: block; margin-top: 8px; }
</style>
</head>
<body>
<div id="top">
  <strong><?php echo h($LEGACY_CONFIG['site_name']); ?></strong> &nbsp;
  <a href="index.php">Home</a>
<?php if ($user): ?>
  <a href="account.php">My account</a>
  <a href="change-password.php">Change password</a>
  <form method="post" action="logout.php"><input type="submit" value="Log out"></form>
  <span id="whoami">Logged in as <?php echo h($user['user_login']); ?></span>
<?php else: ?>
  <a href="login.php">Log in</a>
<?php endif; ?>
</div>
<div id="content">
<h1><?php echo h($title); ?></h1>
<?php
}

function page_footer()
{
    ?>
</div>
</body>
</html>
<?php
}
