<?php
require_once dirname(__FILE__) . '/../lib/common.php';

$me = members_current();
if ($me === null) {
    go('/login.php?redirect=' . rawurlencode('/account.php'));
}

members_page_top('Your account');
?>
<table border="1" cellpadding="4">
<tr><td>Logged in as</td><td id="member-handle"><?php echo e($me['handle']); ?></td></tr>
<tr><td>E-mail</td><td id="member-mail"><?php echo e($me['mail']); ?></td></tr>
<tr><td>Group</td><td id="member-group"><?php echo (int) $me['group_id'] === GROUP_ADMIN ? 'Administrator' : 'Member'; ?></td></tr>
<tr><td>Member since</td><td id="member-since"><?php echo e(gmdate('Y-m-d', (int) $me['joined'])); ?></td></tr>
</table>
<?php
members_page_bottom();
