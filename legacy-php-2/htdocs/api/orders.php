<?php
/*
 * The member's orders, for the shop widget and the partner portal.
 *
 * Who is asking: the reverse proxy in front of us authenticates partner
 * requests itself and names the member in MEMBERS_PROXY_USER_HEADER; we believe
 * that header only when the request comes from one of MEMBERS_TRUSTED_PROXIES.
 * Everyone else is whoever their session says.
 *
 *   200 {"ok":true,"member":{"id":1,"handle":"anna"},"orders":[...]}
 *   401 {"ok":false,"error":"login required"}
 *   403 {"ok":false,"error":"unknown member"}   (proxy named nobody we know, or a banned member)
 */
require_once dirname(__FILE__) . '/../../lib/common.php';

function orders_from_trusted_proxy()
{
    $proxies = array_filter(array_map('trim', explode(',', MEMBERS_TRUSTED_PROXIES)), 'strlen');
    return isset($_SERVER['REMOTE_ADDR']) && in_array($_SERVER['REMOTE_ADDR'], $proxies, true);
}

$member = null;
$header = 'HTTP_' . strtoupper(str_replace('-', '_', MEMBERS_PROXY_USER_HEADER));
if (orders_from_trusted_proxy() && isset($_SERVER[$header]) && $_SERVER[$header] !== '') {
    $member = MembersDb::memberByHandle($_SERVER[$header]);
    if ($member === null || (int) $member['banned'] !== 0) {
        json_out(403, array('ok' => false, 'error' => 'unknown member'));
    }
} else {
    $member = members_current();
}
if ($member === null) {
    json_out(401, array('ok' => false, 'error' => 'login required'));
}

$orders = array();
foreach (MembersDb::ordersOf($member['member_id']) as $row) {
    $orders[] = array(
        'id'     => (int) $row['order_id'],
        'item'   => $row['item'],
        'qty'    => (int) $row['qty'],
        'total'  => sprintf('%d.%02d', intdiv((int) $row['total_cents'], 100), (int) $row['total_cents'] % 100),
        'placed' => gmdate('Y-m-d', (int) $row['placed']),
    );
}
json_out(200, array(
    'ok'     => true,
    'member' => array('id' => (int) $member['member_id'], 'handle' => $member['handle']),
    'orders' => $orders,
));
