<?php
/*
 * Portable phpass hashes ($P$ from WordPress, $H$ from phpBB3).
 *
 * Users imported from the old WordPress blog in 2010 still carry these. This
 * is the "portable" branch of Openwall's phpass 0.3 (PasswordHash::crypt_private
 * and gensalt_private), which is what WordPress uses; rewritten as functions
 * because we do not need the rest of the class.
 */

define('PHPASS_ITOA64', './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');

function phpass_encode64($input, $count)
{
    $itoa64 = PHPASS_ITOA64;
    $output = '';
    $i = 0;
    do {
        $value = ord($input[$i++]);
        $output .= $itoa64[$value & 0x3f];
        if ($i < $count) {
            $value |= ord($input[$i]) << 8;
        }
        $output .= $itoa64[($value >> 6) & 0x3f];
        if ($i++ >= $count) {
            break;
        }
        if ($i < $count) {
            $value |= ord($input[$i]) << 16;
        }
        $output .= $itoa64[($value >> 12) & 0x3f];
        if ($i++ >= $count) {
            break;
        }
        $output .= $itoa64[($value >> 18) & 0x3f];
    } while ($i < $count);

    return $output;
}

/*
 * Returns the hash of $password using the settings (id, cost, salt) at the
 * start of $setting, or '*0' / '*1' when the setting is not a portable hash.
 */
function phpass_crypt_private($password, $setting)
{
    $itoa64 = PHPASS_ITOA64;
    $output = '*0';
    if (substr($setting, 0, 2) === $output) {
        $output = '*1';
    }

    $id = substr($setting, 0, 3);
    if ($id !== '$P$' && $id !== '$H$') {
        return $output;
    }

    $count_log2 = strpos($itoa64, $setting[3]);
    if ($count_log2 === false || $count_log2 < 7 || $count_log2 > 30) {
        return $output;
    }
    $count = 1 << $count_log2;

    $salt = substr($setting, 4, 8);
    if (strlen($salt) !== 8) {
        return $output;
    }

    $hash = md5($salt . $password, true);
    do {
        $hash = md5($hash . $password, true);
    } while (--$count);

    $output = substr($setting, 0, 12);
    $output .= phpass_encode64($hash, 16);

    return $output;
}

/* Makes a new $P$ hash (WordPress uses 2^8 iterations). */
function phpass_hash($password, $iteration_count_log2 = 8, $id = '$P$')
{
    $itoa64 = PHPASS_ITOA64;
    if ($iteration_count_log2 < 4 || $iteration_count_log2 > 31) {
        $iteration_count_log2 = 8;
    }
    $setting = $id . $itoa64[min($iteration_count_log2 + 5, 30)];
    $setting .= phpass_encode64(random_bytes(6), 6);

    $hash = phpass_crypt_private($password, $setting);
    return strlen($hash) === 34 ? $hash : false;
}

function phpass_check($password, $stored_hash)
{
    $hash = phpass_crypt_private($password, $stored_hash);
    if ($hash[0] === '*') {
        return false;
    }
    return hash_equals($stored_hash, $hash);
}
