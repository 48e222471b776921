<?php
/*
 * Portable password hashing, after Openwall's phpass 0.3 (public domain), which
 * we adopted in 2010. New hashes were "$P$" portable ones on the old shared
 * host (no bcrypt in its PHP) and "$2a$" bcrypt once we moved; check() reads both.
 */

class PasswordHash
{
    const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

    private $iterationCountLog2;
    private $portable;

    public function __construct($iterationCountLog2, $portable)
    {
        $this->iterationCountLog2 = ($iterationCountLog2 < 4 || $iterationCountLog2 > 31) ? 8 : $iterationCountLog2;
        $this->portable = (bool) $portable;
    }

    private static function encode64($input, $count)
    {
        $itoa = self::ITOA64;
        $output = '';
        $i = 0;
        do {
            $value = ord($input[$i++]);
            $output .= $itoa[$value & 0x3f];
            if ($i < $count) {
                $value |= ord($input[$i]) << 8;
            }
            $output .= $itoa[($value >> 6) & 0x3f];
            if ($i++ >= $count) {
                break;
            }
            if ($i < $count) {
                $value |= ord($input[$i]) << 16;
            }
            $output .= $itoa[($value >> 12) & 0x3f];
            if ($i++ >= $count) {
                break;
            }
            $output .= $itoa[($value >> 18) & 0x3f];
        } while ($i < $count);
        return $output;
    }

    private static function cryptPrivate($password, $setting)
    {
        $output = substr($setting, 0, 2) === '*0' ? '*1' : '*0';
        if (substr($setting, 0, 3) !== '$P$' && substr($setting, 0, 3) !== '$H$') {
            return $output;
        }
        $countLog2 = strpos(self::ITOA64, $setting[3]);
        if ($countLog2 === false || $countLog2 < 7 || $countLog2 > 30) {
            return $output;
        }
        $count = 1 << $countLog2;
        $salt = substr($setting, 4, 8);
        if (strlen($salt) !== 8) {
            return $output;
        }
        $hash = md5($salt . $password, true);
        do {
            $hash = md5($hash . $password, true);
        } while (--$count);
        return substr($setting, 0, 12) . self::encode64($hash, 16);
    }

    /* $randomBytes: 6 bytes (portable) or 16 bytes (bcrypt) of salt. */
    public function hash($password, $randomBytes)
    {
        if (!$this->portable) {
            $salt = substr(str_replace('+', '.', base64_encode($randomBytes)), 0, 22);
            return crypt($password, sprintf('$2a$%02d$', $this->iterationCountLog2) . $salt);
        }
        $setting = '$P$' . substr(self::ITOA64, min($this->iterationCountLog2 + 5, 30), 1) . self::encode64($randomBytes, 6);
        return self::cryptPrivate($password, $setting);
    }

    public function check($password, $storedHash)
    {
        $hash = self::cryptPrivate($password, $storedHash);
        if ($hash[0] === '*') {
            $hash = crypt($password, $storedHash);
        }
        return is_string($hash) && strlen($hash) > 13 && hash_equals($storedHash, $hash);
    }
}
