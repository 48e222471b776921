<?php
/*
 * Logs out on GET (old links and bookmarks) and POST (the button in the menu).
 * No CSRF check: the worst a forged request can do here is log someone out.
 */
require_once dirname(__FILE__) . '/../includes/common.php';

if (legacy_session_resume()) {
    legacy_session_destroy();
}
redirect('index.php');
