<?php
/*
 * For the load balancer: 200 {"pong":true} when MySQL (and Redis, when the
 * sessions live there) answer, else 503.
 */
require_once dirname(__FILE__) . '/../../lib/common.php';

try {
    MembersDb::pdo()->query('SELECT 1 FROM members LIMIT 1');
    if (MEMBERS_SESSION_HANDLER === 'redis') {
        $redis = new Redis();
        if (!$redis->connect(MEMBERS_REDIS_HOST, MEMBERS_REDIS_PORT, 2.0) || !$redis->ping()) {
            throw new Exception('redis');
        }
    }
} catch (Exception $ex) {
    json_out(503, array('pong' => false));
}
json_out(200, array('pong' => true));
