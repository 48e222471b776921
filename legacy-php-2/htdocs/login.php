<?php
/*
 * Log in. Other pages link here as login.php?redirect=/where/they/were; the
 * form carries it along in a hidden field. Fields: handle, pass, redirect.
 */
require_once dirname(__FILE__) . '/../lib/common.php';

$redirect = isset($_REQUEST['redirect']) ? $_REQUEST['redirect'] : '';
$problem = '';
$handle = '';

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $handle = isset($_POST['handle']) ? trim((string) $_POST['handle']) : '';
    $pass = isset($_POST['pass']) ? (string) $_POST['pass'] : '';
    $member = $handle === '' ? null : MembersDb::memberByHandle($handle);
    if ($member === null || !members_password_ok($pass, $member)) {
        $problem = 'Wrong handle or password.';
    } elseif ((int) $member['banned'] !== 0) {
        $problem = 'This account has been suspended.';
    } else {
        members_login($member);
        go(members_redirect_target($redirect));
    }
} elseif (members_current() !== null) {
    go(members_redirect_target($redirect));
}

members_page_top('Log in');
if ($problem !== '') {
    echo '<p id="login-problem"><font color="red">' . e($problem) . "</font></p>\n";
}
?>
<form method="post" action="/login.php" name="loginform">
<input type="hidden" name="redirect" value="<?php echo e($redirect); ?>">
<table>
<tr><td>Handle:</td><td><input type="text" name="handle" value="<?php echo e($handle); ?>"></td></tr>
<tr><td>Password:</td><td><input type="password" name="pass"></td></tr>
<tr><td></td><td><input type="submit" name="go" value="Log in"></td></tr>
</table>
</form>
<?php
members_page_bottom();
