<?php
/*
 * Password checking.
 *
 * This site has been through several generations of password storage and we
 * never forced a reset, so the users table holds all of them at once:
 *
 *   2004  md5($password)                    32 hex, user_salt NULL
 *   2006  md5($salt . $password)            32 hex, user_salt set
 *   2007  sha1($password), sha1($salt.$pw)  40 hex (the "security upgrade")
 *   2008  sha256 hex from the partner SSO   64 hex (salted when user_salt set)
 *   2008  crypt(): DES, $1$, $5$, $6$       accounts copied from the old Unix box
 *   2010  phpass $P$ / $H$                  accounts imported from WordPress / phpBB
 *   2012  password_hash()                   $2y$ (older bcrypt from crypt_blowfish: $2a$)
 *   later password_hash(PASSWORD_ARGON2ID)  a few accounts set on a test branch
 *
 * New passwords are always written with password_hash(PASSWORD_DEFAULT).
 * Old hashes are NOT upgraded on login: the migration to the new identity
 * provider takes care of that.
 */

require_once dirname(__FILE__) . '/phpass.php';

/*
 * Checks $password against a users row (needs 'user_pass' and 'user_salt').
 * Returns true or false; never throws for an odd hash.
 */
function legacy_check_password($password, $row)
{
    $password = (string) $password;
    $hash = isset($row['user_pass']) ? (string) $row['user_pass'] : '';
    $salt = isset($row['user_salt']) ? (string) $row['user_salt'] : '';

    if ($password === '' || $hash === '') {
        return false;
    }

    switch (legacy_password_scheme($hash)) {
        case 'bcrypt':
        case 'argon2':
            return password_verify($password, $hash);

        case 'md5-crypt':
        case 'sha256-crypt':
        case 'sha512-crypt':
        case 'des-crypt':
            // Note: DES crypt only looks at the first 8 characters of the password.
            return hash_equals($hash, crypt($password, $hash));

        case 'phpass':
            return phpass_check($password, $hash);

        case 'md5':
            return hash_equals(strtolower($hash), md5($salt . $password));

        case 'sha1':
            return hash_equals(strtolower($hash), sha1($salt . $password));

        case 'sha256':
            return hash_equals(strtolower($hash), hash('sha256', $salt . $password));
    }

    return false;
}

/*
 * Names the scheme of a stored hash (see the table at the top of this file),
 * or returns 'unknown'. Salted and bare hex hashes have the same name here:
 * the salt column decides.
 */
function legacy_password_scheme($hash)
{
    $hash = (string) $hash;
    $prefix4 = substr($hash, 0, 4);

    if ($prefix4 === '$2y$' || $prefix4 === '$2a$' || $prefix4 === '$2b$') {
        return 'bcrypt';
    }
    if (strncmp($hash, '$argon2', 7) === 0) {
        return 'argon2';
    }
    if (strncmp($hash, '$1$', 3) === 0) {
        return 'md5-crypt';
    }
    if (strncmp($hash, '$5$', 3) === 0) {
        return 'sha256-crypt';
    }
    if (strncmp($hash, '$6$', 3) === 0) {
        return 'sha512-crypt';
    }
    if (strncmp($hash, '$P$', 3) === 0 || strncmp($hash, '$H$', 3) === 0) {
        return 'phpass';
    }
    if (strlen($hash) === 13 && preg_match('#^[./0-9A-Za-z]{13}$#', $hash)) {
        return 'des-crypt';
    }
    if (preg_match('/^[0-9a-fA-F]{32}$/', $hash)) {
        return 'md5';
    }
    if (preg_match('/^[0-9a-fA-F]{40}$/', $hash)) {
        return 'sha1';
    }
    if (preg_match('/^[0-9a-fA-F]{64}$/', $hash)) {
        return 'sha256';
    }
    return 'unknown';
}

/* What the change-password page (and anything else that sets a password) stores. */
function legacy_hash_password($password)
{
    return password_hash($password, PASSWORD_DEFAULT);
}
