<?php
/*
 * Creates the tables and the demo members (and their orders):
 *
 *   php legacy-php-2/scripts/seed.php                  tables + demo members
 *   php legacy-php-2/scripts/seed.php --schema-only    tables only
 *
 * Same MEMBERS_* settings as the site. Everything is deterministic: the same
 * ids, handles, passwords and even hashes (salts derive from the handle) on
 * every run, so tests can name them. Members that exist already are left alone.
 */

if (PHP_SAPI !== 'cli') {
    header('HTTP/1.0 404 Not Found');
    exit;
}

require_once dirname(__FILE__) . '/../lib/settings.php';
require_once dirname(__FILE__) . '/../lib/database.php';
require_once dirname(__FILE__) . '/../lib/PasswordHash.php';

// member_id => handle, password, how it is stored, mail, group_id, banned, joined
$demo = array(
    1 => array('anna',   'sunshine04',     'md5',         'anna@members.example',   2, 0, 1104537600),
    2 => array('Bernd',  'Käsekuchen7',    'sha1-salted', 'bernd@members.example',  2, 0, 1183248000),
    3 => array('clara',  "clara's cat",    'phpass',      'clara@members.example',  2, 0, 1262304000),
    4 => array('dieter', 'correct horse battery staple', 'bcrypt-2a', 'dieter@members.example', 2, 0, 1293840000),
    5 => array('emma',   'emma-is-admin',  'bcrypt-2y',   'emma@members.example',   1, 0, 1420070400),
    6 => array('frank',  'frank-banned',   'sha1-salted', 'frank@members.example',  2, 1, 1199145600),
);
// member_id, item, qty, total_cents, placed
$orders = array(
    array(1, 'Tea towel', 2, 1250, 1300000000),
    array(1, 'Mug', 1, 899, 1310000000),
    array(3, 'Poster', 1, 1999, 1320000000),
    array(5, 'Gift card', 1, 5000, 1430000000),
);

$args = getopt('', array('schema-only'));
$pdo = MembersDb::pdo();
$sqlite = MembersDb::isSqlite();
$sql = file_get_contents(dirname(__FILE__) . '/../sql/' . ($sqlite ? 'sqlite.sql' : 'mysql.sql'));
foreach (explode(';', preg_replace('/^--.*$/m', '', $sql)) as $statement) {
    if (trim($statement) !== '') {
        $pdo->exec($statement);
    }
}
echo "tables ok\n";
if (isset($args['schema-only'])) {
    exit(0);
}

$added = 0;
$insert = $pdo->prepare('INSERT INTO members (member_id, handle, mail, pass_hash, pass_salt, group_id, banned, joined) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
foreach ($demo as $id => $m) {
    if (MembersDb::memberByHandle($m[0]) !== null) {
        continue;
    }
    list($hash, $salt) = seed_hash($m[2], $m[1], $m[0]);
    $insert->execute(array($id, $m[0], $m[3], $hash, $salt, $m[4], $m[5], $m[6]));
    $added++;
    $addOrder = $pdo->prepare('INSERT INTO orders (member_id, item, qty, total_cents, placed) VALUES (?, ?, ?, ?, ?)');
    foreach ($orders as $o) {
        if ($o[0] === $id) {
            $addOrder->execute($o);
        }
    }
}
echo "members: $added added\n";

/* array(pass_hash, pass_salt); salts come from the handle so every run writes the same row. */
function seed_hash($kind, $password, $handle)
{
    $seed = sha1('seed:' . $handle, true);
    switch ($kind) {
        case 'md5':
            return array(md5($password), null);
        case 'sha1-salted':
            $salt = substr(bin2hex($seed), 0, 8);
            return array(sha1($salt . $password), $salt);
        case 'phpass':
            $phpass = new PasswordHash(8, true);
            return array($phpass->hash($password, substr($seed, 0, 6)), null);
        case 'bcrypt-2a':
            $phpass = new PasswordHash(8, false);
            return array($phpass->hash($password, substr($seed . $seed, 0, 16)), null);
        case 'bcrypt-2y':
            return array(crypt($password, '$2y$10$' . substr(str_replace('+', '.', base64_encode(substr($seed . $seed, 0, 16))), 0, 22)), null);
    }
    throw new Exception("unknown kind $kind");
}
