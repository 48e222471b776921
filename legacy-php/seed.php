<?php
/*
 * Creates the schema (if missing) and the demo users.
 *
 *   php legacy-php/seed.php                 schema + demo users
 *   php legacy-php/seed.php --users=1000    ... plus user000001 .. user001000
 *   php legacy-php/seed.php --schema-only   tables only, no users
 *
 * Uses the same LEGACY_DB_* variables as the site. Every demo user gets the
 * password in LEGACY_SEED_PASSWORD (default "correct horse battery staple"),
 * each stored with a different one of the schemes the site has used over the
 * years (see includes/password.php). Running it again adds only the logins
 * that are missing; existing users are left exactly as they are.
 */

if (PHP_SAPI !== 'cli') {
    header('HTTP/1.1 404 Not Found');
    exit;
}

require_once dirname(__FILE__) . '/config.php';
require_once dirname(__FILE__) . '/includes/db.php';
require_once dirname(__FILE__) . '/includes/password.php';

$options = getopt('', array('users:', 'schema-only', 'help'));
if (isset($options['help'])) {
    echo "usage: php seed.php [--users=N] [--schema-only]\n";
    exit(0);
}
$synthetic = isset($options['users']) ? (int) $options['users'] : 0;
if ($synthetic < 0 || $synthetic > 999999) {
    fwrite(STDERR, "--users must be between 0 and 999999\n");
    exit(2);
}
$password = legacy_env('LEGACY_SEED_PASSWORD', 'correct horse battery staple');

$pdo = seed_connect();
$driver = $pdo->getAttribute(PDO::ATTR_DRIVER_NAME);
seed_create_schema($pdo, $driver);
echo "schema ok ($driver)\n";
if (isset($options['schema-only'])) {
    exit(0);
}

// login => array(scheme, e-mail, display name, is_active)
$demo_users = array(
    'alice' => array('bcrypt',       'alice@example.com', 'Alice Anderson', 1),
    'bob'   => array('md5',          'bob@example.com',   'Bob Brown', 1),
    'carol' => array('md5-salt',     'carol@example.com', 'Carol Clark', 1),
    'dave'  => array('sha1',         'dave@example.com',  "Dave O'Brien <Ops & Infra>", 1),
    'erin'  => array('phpass-P',     'erin@example.com',  'Erin Evans', 1),
    'frank' => array('sha512-crypt', 'frank@example.com', 'Frank Fischer', 1),
    'grace' => array('md5-crypt',    'grace@example.com', 'Grace Green', 1),
    'heidi' => array('argon2id',     'heidi@example.com', 'Heidi Hoffmann', 1),
    'ivan'  => array('des-crypt',    'ivan@example.com',  'Ivan Ivanov', 1),
    'judy'  => array('bcrypt',       'judy@example.com',  'Judy Jones (disabled)', 0),
    'ken'   => array('bcrypt-2a',    'ken@example.com',   'Ken Kowalski', 1),
    'liam'  => array('sha1-salt',    'liam@example.com',  'Liam Lee', 1),
    'mia'   => array('sha256',       'mia@example.com',   'Mia Müller', 1),
    'nina'  => array('sha256-crypt', 'nina@example.com',  'Nina Novak', 1),
    'oscar' => array('phpass-H',     'oscar@example.com', 'Oscar Olsen', 1),
);

$existing = array();
foreach ($pdo->query('SELECT user_login FROM users') as $row) {
    $existing[strtolower($row['user_login'])] = true;
}

$insert = $pdo->prepare(
    ($driver === 'sqlite' ? 'INSERT OR IGNORE' : 'INSERT IGNORE')
    . ' INTO users (user_login, user_email, user_pass, user_salt, is_active, display_name, updated_at)'
    . ' VALUES (?, ?, ?, ?, ?, ?, ?)'
);

$created = 0;
$skipped = 0;
$now = db_now();

$pdo->beginTransaction();
foreach ($demo_users as $login => $u) {
    if (isset($existing[$login])) {
        $skipped++;
        continue;
    }
    list($hash, $salt) = seed_hash($u[0], $password);
    $insert->execute(array($login, $u[1], $hash, $salt, $u[3], $u[2], $now));
    $created += $insert->rowCount();
}
$pdo->commit();

$fast_schemes = array('md5', 'md5-salt', 'sha1', 'bcrypt-4');
$pdo->beginTransaction();
for ($i = 1; $i <= $synthetic; $i++) {
    $login = sprintf('user%06d', $i);
    if (isset($existing[$login])) {
        $skipped++;
        continue;
    }
    list($hash, $salt) = seed_hash($fast_schemes[($i - 1) % count($fast_schemes)], $password);
    $insert->execute(array($login, $login . '@example.com', $hash, $salt, 1, 'Synthetic User ' . $i, $now));
    $created += $insert->rowCount();
    if ($i % 1000 === 0) {
        $pdo->commit();
        $pdo->beginTransaction();
    }
}
$pdo->commit();

echo "users: $created created, $skipped already there\n";
exit(0);

/* Returns array(user_pass, user_salt) for $password stored with $scheme. */
function seed_hash($scheme, $password)
{
    switch ($scheme) {
        case 'bcrypt':
            return array(password_hash($password, PASSWORD_BCRYPT), null);
        case 'bcrypt-4':
            return array(password_hash($password, PASSWORD_BCRYPT, array('cost' => 4)), null);
        case 'bcrypt-2a':
            return array(crypt($password, '$2a$10$' . seed_salt(22)), null);
        case 'argon2id':
            return array(password_hash($password, PASSWORD_ARGON2ID), null);
        case 'md5':
            return array(md5($password), null);
        case 'md5-salt':
            $salt = seed_salt(8);
            return array(md5($salt . $password), $salt);
        case 'sha1':
            return array(sha1($password), null);
        case 'sha1-salt':
            $salt = seed_salt(16);
            return array(sha1($salt . $password), $salt);
        case 'sha256':
            return array(hash('sha256', $password), null);
        case 'phpass-P':
            return array(phpass_hash($password, 8, '$P$'), null);
        case 'phpass-H':
            return array(phpass_hash($password, 6, '$H$'), null);
        case 'md5-crypt':
            return array(crypt($password, '$1$' . seed_salt(8) . '$'), null);
        case 'sha256-crypt':
            return array(crypt($password, '$5$' . seed_salt(16) . '$'), null);
        case 'sha512-crypt':
            return array(crypt($password, '$6$' . seed_salt(16) . '$'), null);
        case 'des-crypt':
            return array(crypt($password, seed_salt(2)), null);
    }
    throw new Exception("unknown scheme $scheme");
}

/* Random salt from crypt's alphabet. */
function seed_salt($length)
{
    $chars = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    $salt = '';
    for ($i = 0; $i < $length; $i++) {
        $salt .= $chars[random_int(0, 63)];
    }
    return $salt;
}

/* Connects; for MySQL, creates the database named in the DSN when it does not exist yet. */
function seed_connect()
{
    global $LEGACY_CONFIG;
    try {
        return db();
    } catch (PDOException $e) {
        $dsn = $LEGACY_CONFIG['db_dsn'];
        $is_unknown_db = isset($e->errorInfo[1]) && (int) $e->errorInfo[1] === 1049;
        if (db_driver_from_dsn($dsn) !== 'mysql' || (!$is_unknown_db && strpos($e->getMessage(), '1049') === false)) {
            fwrite(STDERR, 'cannot connect to ' . $dsn . ': ' . $e->getMessage() . "\n");
            exit(1);
        }
        if (!preg_match('/dbname=([A-Za-z0-9_]+)/', $dsn, $m)) {
            fwrite(STDERR, "cannot create the database: no plain dbname in $dsn\n");
            exit(1);
        }
        $server_dsn = preg_replace('/;?dbname=[A-Za-z0-9_]+/', '', $dsn);
        $server = new PDO($server_dsn, $LEGACY_CONFIG['db_user'], $LEGACY_CONFIG['db_password'], array(PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION));
        $server->exec('CREATE DATABASE IF NOT EXISTS `' . $m[1] . '` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
        echo "created database {$m[1]}\n";
        return db();
    }
}

function seed_create_schema($pdo, $driver)
{
    $file = dirname(__FILE__) . '/schema/' . ($driver === 'sqlite' ? 'sqlite.sql' : 'mysql.sql');
    $sql = preg_replace('/^\s*--.*$/m', '', file_get_contents($file));
    foreach (explode(';', $sql) as $statement) {
        if (trim($statement) !== '') {
            $pdo->exec($statement);
        }
    }
}
