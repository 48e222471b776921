<?php
require_once dirname(__FILE__) . '/../includes/common.php';

$user = require_login();

page_header('My account');
if (isset($_GET['password_changed'])) {
    echo '<p class="notice">Your password has been changed.</p>' . "\n";
}
?>
<table id="account">
  <tr><th align="left">Username</th><td id="account-login"><?php echo h($user['user_login']); ?></td></tr>
  <tr><th align="left">E-mail</th><td id="account-email"><?php echo h($user['user_email']); ?></td></tr>
  <tr><th align="left">Name</th><td id="account-display-name"><?php echo h($user['display_name']); ?></td></tr>
</table>
<p><a href="change-password.php">Change your password</a></p>
<?php
page_footer();
