<?php
/*
 * Sessions.
 *
 * With LEGACY_SESSION_STORE=db (the default) sessions live in the `sessions`
 * table so that every web server sees them; with LEGACY_SESSION_STORE=redis
 * we use phpredis's own save handler (keys PHPREDIS_SESSION:<id>); with
 * LEGACY_SESSION_STORE=files, PHP's own files (sess_<id> in LEGACY_SESSION_SAVE_PATH),
 * which only works with a single web server.
 *
 * Either way the data is PHP's standard "php" serialize format, e.g.
 *
 *     user_id|i:42;login|s:5:"alice";csrf_token|s:32:"...";
 *
 * A logged-in user is one whose session has user_id (int) and login (string).
 * See README.md before adding keys: other systems read and write these.
 */

class DbSessionHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface
{
    private $pdo;
    private $lifetime;

    public function __construct(PDO $pdo, $lifetime)
    {
        $this->pdo = $pdo;
        $this->lifetime = (int) $lifetime;
    }

    public function open(string $path, string $name): bool
    {
        return true;
    }

    public function close(): bool
    {
        return true;
    }

    public function read(string $id): string|false
    {
        $stmt = $this->pdo->prepare('SELECT data FROM sessions WHERE id = ? AND last_access >= ?');
        $stmt->execute(array($id, time() - $this->lifetime));
        $data = $stmt->fetchColumn();
        if ($data === false || $data === null) {
            return '';
        }
        return is_resource($data) ? stream_get_contents($data) : (string) $data;
    }

    public function write(string $id, string $data): bool
    {
        if ($this->pdo->getAttribute(PDO::ATTR_DRIVER_NAME) === 'sqlite') {
            $sql = 'INSERT OR REPLACE INTO sessions (id, data, last_access) VALUES (?, ?, ?)';
        } else {
            $sql = 'INSERT INTO sessions (id, data, last_access) VALUES (?, ?, ?)
                    ON DUPLICATE KEY UPDATE data = VALUES(data), last_access = VALUES(last_access)';
        }
        $stmt = $this->pdo->prepare($sql);
        $stmt->bindValue(1, $id, PDO::PARAM_STR);
        $stmt->bindValue(2, $data, PDO::PARAM_LOB);
        $stmt->bindValue(3, time(), PDO::PARAM_INT);
        return $stmt->execute();
    }

    public function destroy(string $id): bool
    {
        $stmt = $this->pdo->prepare('DELETE FROM sessions WHERE id = ?');
        return $stmt->execute(array($id));
    }

    public function gc(int $max_lifetime): int|false
    {
        $stmt = $this->pdo->prepare('DELETE FROM sessions WHERE last_access < ?');
        $stmt->execute(array(time() - $this->lifetime));
        return $stmt->rowCount();
    }

    /* With use_strict_mode PHP only accepts ids that we know about (no session fixation). */
    public function validateId(string $id): bool
    {
        $stmt = $this->pdo->prepare('SELECT 1 FROM sessions WHERE id = ? AND last_access >= ?');
        $stmt->execute(array($id, time() - $this->lifetime));
        return $stmt->fetchColumn() !== false;
    }

    /* Called instead of write() when the data did not change (session.lazy_write). */
    public function updateTimestamp(string $id, string $data): bool
    {
        $stmt = $this->pdo->prepare('UPDATE sessions SET last_access = ? WHERE id = ?');
        return $stmt->execute(array(time(), $id));
    }
}

function legacy_session_configure()
{
    global $LEGACY_CONFIG;
    static $done = false;
    if ($done) {
        return;
    }
    $done = true;

    ini_set('session.use_strict_mode', '1');
    ini_set('session.use_only_cookies', '1');
    ini_set('session.use_trans_sid', '0');
    ini_set('session.cookie_httponly', '1');
    ini_set('session.serialize_handler', 'php');
    ini_set('session.gc_maxlifetime', (string) $LEGACY_CONFIG['session_lifetime']);
    // Debian ships gc_probability=0 and cleans /var/lib/php/sessions from cron;
    // that cron job does not know about our table, so collect garbage ourselves.
    ini_set('session.gc_probability', '1');
    ini_set('session.gc_divisor', '100');
    session_name($LEGACY_CONFIG['session_name']);
    session_set_cookie_params(0, '/');

    if ($LEGACY_CONFIG['session_store'] === 'redis') {
        if (!extension_loaded('redis')) {
            header('HTTP/1.1 500 Internal Server Error');
            die('LEGACY_SESSION_STORE=redis needs the phpredis extension');
        }
        ini_set('session.save_handler', 'redis');
        ini_set('session.save_path', 'tcp://' . $LEGACY_CONFIG['redis_host'] . ':' . $LEGACY_CONFIG['redis_port']);
    } elseif ($LEGACY_CONFIG['session_store'] === 'files') {
        ini_set('session.save_handler', 'files');
        ini_set('session.save_path', $LEGACY_CONFIG['session_save_path']);
    } else {
        session_set_save_handler(new DbSessionHandler(db(), $LEGACY_CONFIG['session_lifetime']), true);
    }
}

/* Starts (or resumes) the session. Pages with forms need this for the CSRF token. */
function legacy_session_start()
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        return;
    }
    legacy_session_configure();
    session_start();
}

/*
 * Resumes the session only when the browser sent a session cookie, so that
 * anonymous visitors to plain pages do not get a session (and a row) each.
 */
function legacy_session_resume()
{
    global $LEGACY_CONFIG;
    if (session_status() === PHP_SESSION_ACTIVE) {
        return true;
    }
    if (empty($_COOKIE[$LEGACY_CONFIG['session_name']])) {
        return false;
    }
    legacy_session_start();
    return true;
}

/* Logs out: empties the session, removes it from the store and expires the cookie. */
function legacy_session_destroy()
{
    if (session_status() !== PHP_SESSION_ACTIVE) {
        return;
    }
    $_SESSION = array();
    $params = session_get_cookie_params();
    setcookie(session_name(), '', time() - 42000, $params['path'], $params['domain'], $params['secure'], $params['httponly']);
    session_destroy();
}
