<?php
/*
 * Load balancer health check. Does not touch the session.
 *   200 {"status":"ok","db":true,"session_store":"db"}
 *   503 {"status":"error",...} when the database (or redis, when sessions live there) is down
 */
require_once dirname(__FILE__) . '/../../includes/common.php';

$result = array('status' => 'ok', 'db' => false, 'session_store' => $LEGACY_CONFIG['session_store']);

try {
    db()->query('SELECT 1 FROM users LIMIT 1')->fetchAll();
    $result['db'] = true;
} catch (Exception $e) {
    error_log('health: database: ' . $e->getMessage());
    $result['status'] = 'error';
}

if ($LEGACY_CONFIG['session_store'] === 'redis') {
    $result['redis'] = false;
    try {
        $redis = new Redis();
        if ($redis->connect($LEGACY_CONFIG['redis_host'], $LEGACY_CONFIG['redis_port'], 2.0) && $redis->ping()) {
            $result['redis'] = true;
        }
    } catch (Exception $e) {
        error_log('health: redis: ' . $e->getMessage());
    }
    if (!$result['redis']) {
        $result['status'] = 'error';
    }
}

json_response($result['status'] === 'ok' ? 200 : 503, $result);
