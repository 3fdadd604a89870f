/* The Authorization header parser on arbitrary bytes (the header value, up to
 * its first NUL): a refusal leaves nothing behind, never a crash or a read past
 * the string. Beyond not crashing, it checks what auth.h promises of a struct
 * auth_cred: user and secret fit and hold no control byte; a Basic credential
 * re-encodes to exactly the base64 it came from (canonical: one spelling per
 * credential) and its user holds no ':'; a Bearer token is the header's token
 * byte for byte. auth_ct_equal() agrees with memcmp(), and auth_password_ok()
 * with a cheap fixed hash accepts only its password. No hashing of new
 * passwords here: crypt is too slow for the loop. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/auth.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* "pass" with MD5 crypt: fast enough to try once per parsed input */
static const char md5_pass[] = "$1$abc$iUbCWW89D2V9MXDEFGV8x0";

static size_t check_field(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap + 1);

    CHECK(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        CHECK(c >= 0x20 && c != 0x7f);
    }
    return n;
}

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

/* The credentials part of a header: after blanks, the scheme and its spaces,
 * without trailing blanks. */
static const char *credentials(const char *h, size_t *ret_len)
{
    const char *end;

    while (*h == ' ' || *h == '\t')
        h++;
    end = h + strlen(h);
    while (end > h && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    while (h < end && *h != ' ')
        h++;
    while (h < end && *h == ' ')
        h++;
    *ret_len = (size_t)(end - h);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct auth_cred cred;
    static int md5_works = -1; /* libcrypt may be built without MD5 crypt */
    static char plain[AUTH_MAX_USER + 1 + AUTH_MAX_SECRET + 1];
    static char enc[sizeof(plain) / 3 * 4 + 8];
    char *h = malloc(size + 1);
    const char *cr;
    size_t ulen, slen, crlen;
    int r;

    if (!h)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    memset(&cred, 0xa5, sizeof(cred));
    r = auth_parse(h, &cred);
    if (r < 0) {
        CHECK(r == -EINVAL);
        CHECK(cred.scheme == AUTH_NONE && cred.user[0] == '\0' && cred.secret[0] == '\0');
        goto out;
    }
    CHECK(r == 0);
    ulen = check_field(cred.user, AUTH_MAX_USER);
    slen = check_field(cred.secret, AUTH_MAX_SECRET);
    cr = credentials(h, &crlen);
    switch (cred.scheme) {
    case AUTH_BEARER:
        CHECK(ulen == 0 && slen > 0);
        CHECK(crlen == slen && memcmp(cr, cred.secret, slen) == 0);
        break;
    case AUTH_BASIC:
        CHECK(memchr(cred.user, ':', ulen) == NULL);
        memcpy(plain, cred.user, ulen);
        plain[ulen] = ':';
        memcpy(plain + ulen + 1, cred.secret, slen);
        b64((const unsigned char *)plain, ulen + 1 + slen, enc);
        CHECK(strlen(enc) == crlen && memcmp(enc, cr, crlen) == 0);
        break;
    case AUTH_OTHER:
        CHECK(ulen == 0 && slen == 0);
        goto out;
    default:
        /* a header, even an empty one, is never "no header" */
        CHECK(0);
    }
    CHECK(auth_ct_equal(cred.secret, slen, cred.secret, slen));
    CHECK(auth_ct_equal(cred.secret, slen, cred.user, ulen) ==
          (slen == ulen && memcmp(cred.secret, cred.user, slen) == 0));
    CHECK(auth_ct_equal(cred.secret, slen, "pass", 4) ==
          (slen == 4 && !memcmp(cred.secret, "pass", 4)));
    if (md5_works < 0)
        md5_works = auth_password_ok("pass", md5_pass);
    if (md5_works)
        CHECK(auth_password_ok(cred.secret, md5_pass) == (strcmp(cred.secret, "pass") == 0));
out:
    auth_wipe(&cred, sizeof(cred));
    free(h);
    return 0;
}
