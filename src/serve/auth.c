/*
 * Access-control primitives: see auth.h.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* the decoded "user:password" of a Basic header, and its base64 form */
#define BASIC_MAX_DECODED (AUTH_MAX_USER + 1 + AUTH_MAX_SECRET)
#define BASIC_MAX_B64     ((BASIC_MAX_DECODED + 2) / 3 * 4)

/* RFC 9110 tchar: the characters of an auth-scheme name */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 6750 b64token, without the trailing '=' */
static bool is_b64token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~+/", c));
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes canonical base64 (RFC 4648 §4: padded, no blanks, unused bits of the
 * last character zero) in[0..len) into out (room for len / 4 * 3 bytes);
 * *ret_n is the decoded length. -EINVAL for anything else.
 */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t *ret_n)
{
    size_t pad = 0, n = 0;

    if (len == 0 || len % 4 != 0)
        return -EINVAL;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        uint32_t w;

        for (size_t j = 0; j < 4; j++) {
            v[j] = b64val((unsigned char)in[i + j]);
            if (v[j] < 0 && !(last && j >= 4 - pad))
                return -EINVAL;
        }
        if (last && pad == 2) {
            if (v[1] & 0x0f)
                return -EINVAL;
            out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        } else if (last && pad == 1) {
            if (v[2] & 0x03)
                return -EINVAL;
            w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6;
            out[n++] = (unsigned char)(w >> 16);
            out[n++] = (unsigned char)(w >> 8);
        } else {
            w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
            out[n++] = (unsigned char)(w >> 16);
            out[n++] = (unsigned char)(w >> 8);
            out[n++] = (unsigned char)w;
        }
    }
    *ret_n = n;
    return 0;
}

static int parse_bearer(const char *p, size_t len, struct auth_cred *out)
{
    size_t i = 0;

    while (i < len && is_b64token_char((unsigned char)p[i]))
        i++;
    if (i == 0)
        return -EINVAL;
    while (i < len && p[i] == '=')
        i++;
    if (i != len || len > AUTH_MAX_SECRET)
        return -EINVAL;
    memcpy(out->secret, p, len);
    out->secret[len] = '\0';
    out->scheme = AUTH_BEARER;
    return 0;
}

static int parse_basic(const char *p, size_t len, struct auth_cred *out)
{
    unsigned char buf[BASIC_MAX_B64 / 4 * 3];
    const unsigned char *colon;
    size_t n, ulen, plen;
    int r = -EINVAL;

    if (len > BASIC_MAX_B64 || b64_decode(p, len, buf, &n) < 0)
        goto out;
    colon = memchr(buf, ':', n);
    if (!colon)
        goto out;
    ulen = (size_t)(colon - buf);
    plen = n - ulen - 1;
    if (ulen > AUTH_MAX_USER || plen > AUTH_MAX_SECRET)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (is_ctl(buf[i]))
            goto out;
    }
    memcpy(out->user, buf, ulen);
    out->user[ulen] = '\0';
    memcpy(out->secret, colon + 1, plen);
    out->secret[plen] = '\0';
    out->scheme = AUTH_BASIC;
    r = 0;
out:
    auth_wipe(buf, sizeof(buf));
    return r;
}

int auth_parse(const char *header, struct auth_cred *out)
{
    const char *p, *end, *scheme;
    size_t slen;
    int r;

    auth_wipe(out, sizeof(*out));
    out->scheme = AUTH_NONE;
    if (!header)
        return 0;
    /* surrounding blanks are not part of the field value (RFC 9110 §5.5) */
    p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    scheme = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    slen = (size_t)(p - scheme);
    if (slen == 0 || (p < end && *p != ' '))
        return -EINVAL;
    while (p < end && *p == ' ')
        p++;
    if (slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0)
        r = parse_bearer(p, (size_t)(end - p), out);
    else if (slen == 5 && strncasecmp(scheme, "Basic", 5) == 0)
        r = parse_basic(p, (size_t)(end - p), out);
    else {
        out->scheme = AUTH_OTHER;
        r = 0;
    }
    if (r < 0) {
        auth_wipe(out, sizeof(*out));
        out->scheme = AUTH_NONE;
    }
    return r;
}

bool auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const unsigned char *x = a, *y = b;
    size_t n = alen > blen ? alen : blen;
    volatile unsigned char d = alen != blen;

    /* every byte of the longer one is visited whatever the contents; only the
     * lengths decide the branches */
    for (size_t i = 0; i < n; i++) {
        unsigned char cx = i < alen ? x[i] : 0;
        unsigned char cy = i < blen ? y[i] : 0;

        d = d | (unsigned char)(cx ^ cy);
    }
    return d == 0;
}

bool auth_password_ok(const char *password, const char *hash)
{
    struct crypt_data *cd;
    const char *r;
    size_t hlen;
    bool ok = false;

    if (!password || !hash)
        return false;
    hlen = strnlen(hash, CRYPT_OUTPUT_SIZE);
    /* "", a failure token or a locked account ("*...", "!..."), or too long */
    if (hlen == 0 || hlen >= CRYPT_OUTPUT_SIZE || hash[0] == '*' || hash[0] == '!')
        return false;
    cd = calloc(1, sizeof(*cd));
    if (!cd)
        return false;
    r = crypt_r(password, hash, cd);
    if (r && r[0] != '*')
        ok = auth_ct_equal(r, strlen(r), hash, hlen);
    auth_wipe(cd, sizeof(*cd));
    free(cd);
    return ok;
}

/* A setting for prefix with fresh random salt, or -EINVAL if libcrypt does
 * not know the method, -EIO for any other failure. */
static int gensalt(const char *prefix, char *setting, int len)
{
    char rbytes[32];
    ssize_t n;
    int r = 0;

    do
        n = getrandom(rbytes, sizeof(rbytes), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(rbytes))
        r = -EIO;
    else if (!crypt_gensalt_rn(prefix, 0, rbytes, (int)sizeof(rbytes), setting, len))
        r = errno == EINVAL ? -EINVAL : -EIO;
    auth_wipe(rbytes, sizeof(rbytes));
    return r;
}

int auth_hash_password(const char *password, char *out, size_t outlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = NULL;
    const char *h;
    size_t hlen;
    int r;

    if (!password || !*password ||
        strnlen(password, CRYPT_MAX_PASSPHRASE_SIZE) >= CRYPT_MAX_PASSPHRASE_SIZE)
        return -EINVAL;
    /* yescrypt where libcrypt has it, SHA-512 crypt where it does not */
    r = gensalt("$y$", setting, (int)sizeof(setting));
    if (r == -EINVAL)
        r = gensalt("$6$", setting, (int)sizeof(setting));
    if (r < 0) {
        r = -EIO;
        goto out;
    }
    cd = calloc(1, sizeof(*cd));
    if (!cd) {
        r = -ENOMEM;
        goto out;
    }
    h = crypt_r(password, setting, cd);
    if (!h || h[0] == '*') {
        r = -EIO;
        goto out;
    }
    hlen = strlen(h);
    if (hlen >= outlen) {
        r = -ENOSPC;
        goto out;
    }
    memcpy(out, h, hlen + 1);
    r = 0;
out:
    if (cd) {
        auth_wipe(cd, sizeof(*cd));
        free(cd);
    }
    auth_wipe(setting, sizeof(setting));
    return r;
}

void auth_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}
