<?php
/*
 * Included at the top of every page.
 */

error_reporting(E_ALL);
ini_set('display_errors', '0');
ini_set('log_errors', '1');

require_once dirname(__FILE__) . '/../config.php';
require_once dirname(__FILE__) . '/db.php';
require_once dirname(__FILE__) . '/password.php';
require_once dirname(__FILE__) . '/session.php';
require_once dirname(__FILE__) . '/auth.php';
require_once dirname(__FILE__) . '/html.php';

header('X-Frame-Options: SAMEORIGIN');
