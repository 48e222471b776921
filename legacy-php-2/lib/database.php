<?php
/*
 * The database. MySQL on live, SQLite on developer laptops.
 */

class MembersDb
{
    private static $pdo = null;

    public static function pdo()
    {
        if (self::$pdo === null) {
            $sqlite = strncmp(MEMBERS_DSN, 'sqlite:', 7) === 0;
            self::$pdo = new PDO(MEMBERS_DSN, $sqlite ? null : MEMBERS_DB_USER, $sqlite ? null : MEMBERS_DB_PASS);
            self::$pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
            self::$pdo->setAttribute(PDO::ATTR_DEFAULT_FETCH_MODE, PDO::FETCH_ASSOC);
            if ($sqlite) {
                self::$pdo->setAttribute(PDO::ATTR_TIMEOUT, 5);
            } else {
                self::$pdo->exec('SET NAMES utf8mb4');
            }
        }
        return self::$pdo;
    }

    public static function isSqlite()
    {
        return self::pdo()->getAttribute(PDO::ATTR_DRIVER_NAME) === 'sqlite';
    }

    /* The member with this handle (case-insensitive: the column's collation), or null. */
    public static function memberByHandle($handle)
    {
        $st = self::pdo()->prepare('SELECT * FROM members WHERE handle = ?');
        $st->execute(array((string) $handle));
        $row = $st->fetch();
        return $row ? $row : null;
    }

    public static function memberById($id)
    {
        $st = self::pdo()->prepare('SELECT * FROM members WHERE member_id = ?');
        $st->execute(array((int) $id));
        $row = $st->fetch();
        return $row ? $row : null;
    }

    public static function ordersOf($memberId)
    {
        $st = self::pdo()->prepare('SELECT order_id, item, qty, total_cents, placed FROM orders WHERE member_id = ? ORDER BY order_id');
        $st->execute(array((int) $memberId));
        return $st->fetchAll();
    }
}
