<?php
require_once dirname(__FILE__) . '/../includes/common.php';

$user = current_user();

page_header('Welcome');
if ($user) {
    ?>
<p class="status" id="logged-in">Hello, <?php echo h($user['display_name'] !== null && $user['display_name'] !== '' ? $user['display_name'] : $user['user_login']); ?>! You are logged in.</p>
<p><a href="account.php">Go to your account</a></p>
<?php
} else {
    ?>
<p class="status" id="logged-out">You are not logged in.</p>
<p><a href="login.php">Log in</a> to see your account.</p>
<?php
}
page_footer();
