<?php
require_once dirname(__FILE__) . '/../includes/common.php';

legacy_session_start();

// Same words for every failure: do not tell strangers which logins exist.
define('LOGIN_FAILED_MESSAGE', 'Invalid username or password.');

$error = '';
$login = '';

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $login = isset($_POST['login']) ? trim((string) $_POST['login']) : '';
    $password = isset($_POST['password']) ? (string) $_POST['password'] : '';

    if (!csrf_check()) {
        http_response_code(400);
        $error = 'Your form expired. Please try again.';
    } elseif ($login === '' || $password === '') {
        $error = LOGIN_FAILED_MESSAGE;
    } else {
        $row = db_find_user_for_login($login);
        if ($row === null) {
            // Spend about as long as a real check so timing does not give it away either.
            password_verify($password, '$2y$10$WK.Vesk7rRrLpV5Xt7HEjeWo9xZgb9oJ8H9wvuYA6cndVuP07JZCy');
            $error = LOGIN_FAILED_MESSAGE;
        } elseif (!legacy_check_password($password, $row) || (int) $row['is_active'] !== 1) {
            $error = LOGIN_FAILED_MESSAGE;
        } else {
            login_user($row);
            redirect('account.php');
        }
    }
    if ($error === LOGIN_FAILED_MESSAGE) {
        error_log('legacy login failed for ' . json_encode($login) . ' from ' . $_SERVER['REMOTE_ADDR']);
    }
} elseif (current_user()) {
    redirect('account.php');
}

page_header('Log in');
if ($error !== '') {
    echo '<p class="error" id="login-error">' . h($error) . "</p>\n";
}
?>
<form method="post" action="login.php" id="login-form">
  <?php echo csrf_field(); ?>
  <label for="login">Username or e-mail</label>
  <input type="text" name="login" id="login" value="<?php echo h($login); ?>" size="40" autofocus>
  <label for="password">Password</label>
  <input type="password" name="password" id="password" size="40">
  <p><input type="submit" value="Log in"></p>
</form>
<?php
page_footer();
