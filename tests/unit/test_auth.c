/* Authorization header parsing, constant-time comparison and password hashes
 * (src/serve/auth.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "serve/auth.h"

/* `openssl passwd -6 -salt abc pass` */
static const char sha512_pass[] = "$6$abc$dCZAbKbeBK7T0hukxi7enUZp/94Lft5t19M7i5KuPRB7fbWvBRbIYAWY"
                                  "22u9tH90kN7HD..U6kgPLsfSP1Rl0/";

/* "open sesame" with yescrypt at the default cost, salt from fixed bytes */
static const char yescrypt_open_sesame[] =
    "$y$j9T$k2XAnEHBqQ1Ct2aMXFKNa/$.X04N2hVpz9eY4aeVVLaxg3XSrxlrakD29MzAfFP0a/";

static struct auth_cred cred;

/* a failed parse leaves nothing behind */
static void assert_rejected(const char *header)
{
    memset(&cred, 0x55, sizeof(cred));
    assert_int_equal(auth_parse(header, &cred), -EINVAL);
    assert_int_equal(cred.scheme, AUTH_NONE);
    assert_string_equal(cred.user, "");
    assert_string_equal(cred.secret, "");
}

static void none_and_other(void **state)
{
    (void)state;
    memset(&cred, 0x55, sizeof(cred));
    assert_int_equal(auth_parse(NULL, &cred), 0);
    assert_int_equal(cred.scheme, AUTH_NONE);
    assert_string_equal(cred.secret, "");
    assert_int_equal(auth_parse("Digest username=\"a\", realm=\"b\"", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_OTHER);
    assert_string_equal(cred.user, "");
    assert_string_equal(cred.secret, "");
    assert_int_equal(auth_parse("Negotiate", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_OTHER);
    assert_int_equal(auth_parse("Bearerx abc", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_OTHER);
    assert_rejected("");
    assert_rejected("   ");
    assert_rejected("Bea(rer abc");
    assert_rejected("\"Bearer\" abc");
    assert_rejected("Bearer\tabc");
    assert_rejected(":abc");
}

static void bearer(void **state)
{
    char big[AUTH_MAX_SECRET + 16];

    (void)state;
    assert_int_equal(auth_parse("Bearer abc.DEF-123_~+/==", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_BEARER);
    assert_string_equal(cred.secret, "abc.DEF-123_~+/==");
    assert_string_equal(cred.user, "");
    /* the scheme in any case; blanks around the value and after the scheme */
    assert_int_equal(auth_parse("bEARER tok", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_BEARER);
    assert_string_equal(cred.secret, "tok");
    assert_int_equal(auth_parse(" \tBearer   tok \t", &cred), 0);
    assert_string_equal(cred.secret, "tok");

    assert_rejected("Bearer");
    assert_rejected("Bearer ");
    assert_rejected("Bearer tok extra");
    assert_rejected("Bearer to\"k");
    assert_rejected("Bearer to,k");
    assert_rejected("Bearer =abc");
    assert_rejected("Bearer ab=c");
    assert_rejected("Bearer tok\x01");
    assert_rejected("Bearer tok\x7f");
    assert_rejected("Bearer t\xc3\xa9");

    /* AUTH_MAX_SECRET bytes fit, one more does not */
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'x', AUTH_MAX_SECRET);
    big[7 + AUTH_MAX_SECRET] = '\0';
    assert_int_equal(auth_parse(big, &cred), 0);
    assert_int_equal(strlen(cred.secret), AUTH_MAX_SECRET);
    big[7 + AUTH_MAX_SECRET] = 'x';
    big[8 + AUTH_MAX_SECRET] = '\0';
    assert_rejected(big);
}

static void basic(void **state)
{
    (void)state;
    /* RFC 7617 §2 */
    assert_int_equal(auth_parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &cred), 0);
    assert_int_equal(cred.scheme, AUTH_BASIC);
    assert_string_equal(cred.user, "Aladdin");
    assert_string_equal(cred.secret, "open sesame");
    assert_int_equal(auth_parse("BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &cred), 0);
    assert_string_equal(cred.user, "Aladdin");
    /* split at the first ':' ("a:b:c") */
    assert_int_equal(auth_parse("basic YTpiOmM=", &cred), 0);
    assert_string_equal(cred.user, "a");
    assert_string_equal(cred.secret, "b:c");
    /* ":" and "u:" : empty parts are the server's to judge */
    assert_int_equal(auth_parse("Basic Og==", &cred), 0);
    assert_string_equal(cred.user, "");
    assert_string_equal(cred.secret, "");
    assert_int_equal(auth_parse("Basic dTo=", &cred), 0);
    assert_string_equal(cred.user, "u");
    assert_string_equal(cred.secret, "");
    /* UTF-8 is fine: "é:ü" */
    assert_int_equal(auth_parse("Basic w6k6w7w=", &cred), 0);
    assert_string_equal(cred.user, "\xc3\xa9");
    assert_string_equal(cred.secret, "\xc3\xbc");
    /* every length modulo 3: "ab:c", "ab:cd", "ab:cde" */
    assert_int_equal(auth_parse("Basic YWI6Yw==", &cred), 0);
    assert_string_equal(cred.secret, "c");
    assert_int_equal(auth_parse("Basic YWI6Y2Q=", &cred), 0);
    assert_string_equal(cred.secret, "cd");
    assert_int_equal(auth_parse("Basic YWI6Y2Rl", &cred), 0);
    assert_string_equal(cred.secret, "cde");
}

static void basic_malformed(void **state)
{
    (void)state;
    assert_rejected("Basic");
    assert_rejected("Basic ");
    assert_rejected("Basic QWxhZGRpbg==");                  /* "Aladdin": no ':' */
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ");    /* no padding */
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=");   /* short padding */
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==="); /* too much */
    assert_rejected("Basic QWxhZGRpbjpvcGVu IHNlc2FtZQ=="); /* a blank inside */
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==x");
    assert_rejected("Basic QWxh=GRpbjpvcGVuIHNlc2FtZQ==");
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR=="); /* non-zero unused bits */
    assert_rejected("Basic YWI6Y2R=");                     /* likewise, one '=' */
    assert_rejected("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ-_"); /* base64url */
    assert_rejected("Basic ====");
    assert_rejected("Basic =");
    assert_rejected("Basic YQ==YQ==");
    assert_rejected("Basic dTpw\x01");
    assert_rejected("Basic dTpwAA=="); /* "u:p\0" */
    assert_rejected("Basic dQA6cA=="); /* "u\0:p" */
    assert_rejected("Basic dTpwCg=="); /* "u:p\n" */
    assert_rejected("Basic dQk6cA=="); /* "u\t:p" */
    assert_rejected("Basic dTpwfw=="); /* "u:p\x7f" */
}

/* base64 of s, for the length limits */
static void b64(const unsigned char *s, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)s[i] << 16;

        if (i + 1 < n)
            w |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            w |= s[i + 2];
        out[o++] = a[w >> 18 & 63];
        out[o++] = a[w >> 12 & 63];
        out[o++] = i + 1 < n ? a[w >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[w & 63] : '=';
    }
    out[o] = '\0';
}

static void basic_limits(void **state)
{
    static unsigned char plain[AUTH_MAX_USER + AUTH_MAX_SECRET + 8];
    static char header[sizeof(plain) * 2];
    size_t n;

    (void)state;
    /* the longest user and password fit */
    memset(plain, 'u', AUTH_MAX_USER);
    plain[AUTH_MAX_USER] = ':';
    memset(plain + AUTH_MAX_USER + 1, 'p', AUTH_MAX_SECRET);
    n = AUTH_MAX_USER + 1 + AUTH_MAX_SECRET;
    memcpy(header, "Basic ", 6);
    b64(plain, n, header + 6);
    assert_int_equal(auth_parse(header, &cred), 0);
    assert_int_equal(strlen(cred.user), AUTH_MAX_USER);
    assert_int_equal(strlen(cred.secret), AUTH_MAX_SECRET);
    /* one byte more in either is refused */
    plain[n] = 'p';
    b64(plain, n + 1, header + 6);
    assert_rejected(header);
    memset(plain, 'u', AUTH_MAX_USER + 1);
    plain[AUTH_MAX_USER + 1] = ':';
    plain[AUTH_MAX_USER + 2] = 'p';
    b64(plain, AUTH_MAX_USER + 3, header + 6);
    assert_rejected(header);
}

static void ct_equal(void **state)
{
    (void)state;
    assert_true(auth_ct_equal("secret", 6, "secret", 6));
    assert_false(auth_ct_equal("secret", 6, "secreT", 6));
    assert_false(auth_ct_equal("Secret", 6, "secret", 6));
    assert_false(auth_ct_equal("secret", 6, "secret2", 7));
    assert_false(auth_ct_equal("secret2", 7, "secret", 6));
    assert_false(auth_ct_equal("", 0, "a", 1));
    assert_true(auth_ct_equal("", 0, "", 0));
    assert_true(auth_ct_equal(NULL, 0, NULL, 0));
    assert_false(auth_ct_equal(NULL, 0, "a", 1));
    /* bytes past the shorter one do not make a prefix equal */
    assert_false(auth_ct_equal("ab\0", 3, "ab", 2));
    assert_true(auth_ct_equal("a\0b", 3, "a\0b", 3));
    assert_false(auth_ct_equal("a\0b", 3, "a\0c", 3));
}

static void sha512_hash(void **state)
{
    (void)state;
    assert_true(auth_password_ok("pass", sha512_pass));
    assert_false(auth_password_ok("Pass", sha512_pass));
    assert_false(auth_password_ok("pass ", sha512_pass));
    assert_false(auth_password_ok("", sha512_pass));
    assert_false(auth_password_ok(NULL, sha512_pass));
}

static void malformed_hash(void **state)
{
    char trunc[sizeof(sha512_pass)];
    char altered[sizeof(sha512_pass)];
    char huge[600];

    (void)state;
    assert_false(auth_password_ok("pass", NULL));
    assert_false(auth_password_ok("pass", ""));
    assert_false(auth_password_ok("", ""));
    assert_false(auth_password_ok("pass", "*"));
    assert_false(auth_password_ok("pass", "*0"));
    assert_false(auth_password_ok("pass", "*1"));
    assert_false(auth_password_ok("pass", "!"));
    assert_false(auth_password_ok("pass", "!$6$abc$x"));
    assert_false(auth_password_ok("pass", "$6$"));
    assert_false(auth_password_ok("pass", "$y$"));
    assert_false(auth_password_ok("pass", "$9$abc$def"));
    assert_false(auth_password_ok("pass", "$6$abc"));
    assert_false(auth_password_ok("pass", "plaintext password"));
    assert_false(auth_password_ok("pass", "pass"));
    /* a hash cut short, or altered in its last character */
    memcpy(trunc, sha512_pass, sizeof(trunc));
    trunc[sizeof(trunc) - 5] = '\0';
    assert_false(auth_password_ok("pass", trunc));
    memcpy(altered, sha512_pass, sizeof(altered));
    altered[sizeof(altered) - 2] = '.';
    assert_false(auth_password_ok("pass", altered));
    /* the setting alone (salt, no hash) must not match what it computes */
    assert_false(auth_password_ok("pass", "$6$abc$"));
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    memcpy(huge, "$6$", 3);
    assert_false(auth_password_ok("pass", huge));
}

static void hash_round_trip(void **state)
{
    char h1[256], h2[256], tiny[8], pw[AUTH_MAX_SECRET + 1];

    (void)state;
    assert_int_equal(auth_hash_password("correct horse", h1, sizeof(h1)), 0);
    /* yescrypt where libcrypt has it (Debian, Fedora), SHA-512 crypt elsewhere */
    assert_true(strncmp(h1, "$y$", 3) == 0 || strncmp(h1, "$6$", 3) == 0);
    assert_true(auth_password_ok("correct horse", h1));
    assert_false(auth_password_ok("correct horsE", h1));
    assert_false(auth_password_ok("correct hors", h1));
    assert_false(auth_password_ok("", h1));
    /* a fresh salt every time */
    assert_int_equal(auth_hash_password("correct horse", h2, sizeof(h2)), 0);
    assert_string_not_equal(h1, h2);
    assert_true(auth_password_ok("correct horse", h2));

    assert_int_equal(auth_hash_password("", h1, sizeof(h1)), -EINVAL);
    assert_int_equal(auth_hash_password(NULL, h1, sizeof(h1)), -EINVAL);
    assert_int_equal(auth_hash_password("pw", tiny, sizeof(tiny)), -ENOSPC);

    /* libcrypt takes passwords up to 511 bytes; longer ones neither hash nor match */
    memset(pw, 'p', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    assert_int_equal(auth_hash_password(pw, h1, sizeof(h1)), -EINVAL);
    assert_false(auth_password_ok(pw, h1));
    pw[511] = '\0';
    assert_int_equal(auth_hash_password(pw, h1, sizeof(h1)), 0);
    assert_true(auth_password_ok(pw, h1));
    pw[510] = '\0';
    assert_false(auth_password_ok(pw, h1));
}

static void yescrypt_round_trip(void **state)
{
    char h[256];

    (void)state;
    assert_int_equal(auth_hash_password("open sesame", h, sizeof(h)), 0);
    if (strncmp(h, "$y$", 3) != 0) {
        skip(); /* this libcrypt has no yescrypt */
        return;
    }
    assert_true(auth_password_ok("open sesame", h));
    assert_false(auth_password_ok("open sesamE", h));
    /* a fixed hash verifies (the format is stable across libcrypt versions) */
    assert_true(auth_password_ok("open sesame", yescrypt_open_sesame));
    assert_false(auth_password_ok("open sesamE", yescrypt_open_sesame));
    /* a "$y$" without a hash, or with a bad salt, does not */
    assert_false(auth_password_ok("open sesame", "$y$j9T$$"));
    assert_false(auth_password_ok("open sesame", "$y$j9T$!!!$abc"));
    assert_false(auth_password_ok("open sesame", "$y$j9T$k2XAnEHBqQ1Ct2aMXFKNa/"));
}

static void wipe(void **state)
{
    char buf[16];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    auth_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    auth_wipe(NULL, 0);
    auth_wipe(buf, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(none_and_other),
        cmocka_unit_test(bearer),
        cmocka_unit_test(basic),
        cmocka_unit_test(basic_malformed),
        cmocka_unit_test(basic_limits),
        cmocka_unit_test(ct_equal),
        cmocka_unit_test(sha512_hash),
        cmocka_unit_test(malformed_hash),
        cmocka_unit_test(hash_round_trip),
        cmocka_unit_test(yescrypt_round_trip),
        cmocka_unit_test(wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
