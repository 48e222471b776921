<?php
require_once dirname(__FILE__) . '/../lib/common.php';

members_page_top('Welcome');
$me = members_current();
if ($me) {
    echo '<p id="welcome">Welcome back, ' . e($me['handle']) . '! See <a href="/account.php">your account</a>.</p>';
} else {
    echo '<p id="welcome">Members only. Please <a href="/login.php">log in</a>.</p>';
}
members_page_bottom();
