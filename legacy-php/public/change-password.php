<?php
require_once dirname(__FILE__) . '/../includes/common.php';

$user = require_login();

$error = '';

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $current = isset($_POST['current_password']) ? (string) $_POST['current_password'] : '';
    $new = isset($_POST['new_password']) ? (string) $_POST['new_password'] : '';
    $confirm = isset($_POST['new_password_confirm']) ? (string) $_POST['new_password_confirm'] : '';

    if (!csrf_check()) {
        http_response_code(400);
        $error = 'Your form expired. Please try again.';
    } elseif (!legacy_check_password($current, $user)) {
        $error = 'Your current password is not correct.';
    } elseif (strlen($new) < 8) {
        $error = 'The new password must be at least 8 characters long.';
    } elseif ($new !== $confirm) {
        $error = 'The two new passwords do not match.';
    } else {
        $stmt = db()->prepare('UPDATE users SET user_pass = ?, user_salt = NULL, updated_at = ? WHERE user_id = ?');
        $stmt->execute(array(legacy_hash_password($new), db_now(), (int) $user['user_id']));
        session_regenerate_id(true);
        unset($_SESSION['csrf_token']);
        redirect('account.php?password_changed=1');
    }
}

page_header('Change password');
if ($error !== '') {
    echo '<p class="error" id="change-password-error">' . h($error) . "</p>\n";
}
?>
<form method="post" action="change-password.php" id="change-password-form">
  <?php echo csrf_field(); ?>
  <label for="current_password">Current password</label>
  <input type="password" name="current_password" id="current_password" size="40">
  <label for="new_password">New password (at least 8 characters)</label>
  <input type="password" name="new_password" id="new_password" size="40">
  <label for="new_password_confirm">New password again</label>
  <input type="password" name="new_password_confirm" id="new_password_confirm" size="40">
  <p><input type="submit" value="Change password"></p>
</form>
<?php
page_footer();
