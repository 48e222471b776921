<?php
require_once dirname(__FILE__) . '/../lib/common.php';

members_logout();
go('/login.php?bye=1');
