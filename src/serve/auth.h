/*
 * Access-control primitives for the HTTP server: Authorization header parsing,
 * constant-time comparison and salted password hashes (crypt(3): yescrypt, the
 * Debian default, or SHA-512 "$6$"; verification accepts any scheme libcrypt
 * knows).
 *
 * Which request needs which credential is decided by the server (http.c); this
 * file only answers "is this credential right" without leaking, through its
 * timing, how much of a secret matched.
 */
#ifndef AM_SERVE_AUTH_H
#define AM_SERVE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_MAX_USER   256
#define AUTH_MAX_SECRET 1024

enum auth_scheme {
    AUTH_NONE,   /* no header */
    AUTH_BEARER, /* "Bearer <token>" */
    AUTH_BASIC,  /* "Basic base64(user:password)" */
    AUTH_OTHER,  /* a scheme we do not take */
};

struct auth_cred {
    enum auth_scheme scheme;
    char user[AUTH_MAX_USER + 1];     /* basic only */
    char secret[AUTH_MAX_SECRET + 1]; /* the token or the password */
};

/*
 * Parses an Authorization header value (NULL: AUTH_NONE). Scheme names are
 * case-insensitive; base64 must be canonical (padding, no stray characters);
 * user and password must fit and hold no NUL or control byte. Returns 0, or
 * -EINVAL for a malformed header (to answer 400/401). Wipes *out first, and
 * again on failure (scheme AUTH_NONE). An unknown scheme gives AUTH_OTHER with
 * empty user and secret, whatever follows it. Surrounding blanks are ignored.
 * The caller owns *out and should auth_wipe() it when done.
 */
int auth_parse(const char *header, struct auth_cred *out);

/* Equality of a and b in time that depends only on alen and blen (NULL is
 * fine with a length of 0). */
bool auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/*
 * True if password matches the crypt(3) hash; the comparison is constant-time.
 * False for a NULL, empty, locked ("!...") or malformed hash, and for a
 * password libcrypt refuses: over 511 bytes, which AUTH_MAX_SECRET would let
 * through auth_parse(). Takes as long as the hash's method and cost make it
 * (yescrypt at the default cost: about 30 ms).
 * Thread-safe (crypt_r with a private, wiped work area).
 */
bool auth_password_ok(const char *password, const char *hash);

/* A new salted hash of password (fresh salt from getrandom) into out:
 * yescrypt ("$y$"), or SHA-512 crypt ("$6$") where libcrypt lacks yescrypt.
 * 0, -EINVAL (empty or over-long password), -ENOSPC (out too small),
 * -ENOMEM, or -EIO when libcrypt or getrandom fails. Thread-safe. */
int auth_hash_password(const char *password, char *out, size_t outlen);

/* Overwrites n bytes in a way the compiler may not drop. */
void auth_wipe(void *p, size_t n);

#endif
