<?php
/*
 * Which hash a member row has depends on when the password was last set:
 *
 *   2004-2007  md5($password), 32 hex, pass_salt NULL
 *   2007-2010  sha1($pass_salt . $password), 40 hex, pass_salt 8 chars
 *   2010-2014  phpass: "$P$" on the old host, "$2a$" (bcrypt) after the move
 *   2014-      password_hash(): "$2y$"
 *
 * Nothing is rehashed on login: members keep the hash of their last password change.
 */

require_once dirname(__FILE__) . '/PasswordHash.php';

function members_password_ok($password, array $member)
{
    $stored = (string) $member['pass_hash'];
    if ($password === '' || $stored === '') {
        return false;
    }
    if (strncmp($stored, '$2y$', 4) === 0) {
        return password_verify($password, $stored);
    }
    if (strncmp($stored, '$P$', 3) === 0 || strncmp($stored, '$2a$', 4) === 0) {
        $phpass = new PasswordHash(8, true);
        return $phpass->check($password, $stored);
    }
    if (preg_match('/^[0-9a-f]{40}$/i', $stored) && $member['pass_salt'] !== null && $member['pass_salt'] !== '') {
        return hash_equals(strtolower($stored), sha1($member['pass_salt'] . $password));
    }
    if (preg_match('/^[0-9a-f]{32}$/i', $stored)) {
        return hash_equals(strtolower($stored), md5($password));
    }
    return false;
}
