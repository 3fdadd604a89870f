/* Commands that read a running daemon's API: status, anomalies; and
 * hash-password, which makes the hash http.auth.basic_password_hash takes. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "common/curl_dl.h"
#include "common/parse.h"
#include "common/strbuf.h"
#include "serve/auth.h"

#define MAX_BODY ((size_t)64 << 20)

struct client {
    const char *config_path;
    const char *url; /* base, no trailing slash */
    const char *cacert;
    const char *token;
    bool json;
    char base[512];
    char *file_token;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct strbuf *sb = ctx;

    if (strbuf_append(sb, p, size * n) < 0)
        return 0; /* too large: abort the transfer */
    return size * n;
}

/* The daemon's address and credentials from its config, unless given. */
static int client_setup(struct client *cl)
{
    struct config cfg;
    const char *host;
    bool v6;

    if (cli_load_config(cl->config_path, &cfg, NULL) < 0)
        return -EINVAL;
    if (!cl->url) {
        host = cfg.agent.listen_address;
        if (!strcmp(host, "0.0.0.0"))
            host = "127.0.0.1";
        else if (!strcmp(host, "::"))
            host = "::1";
        v6 = strchr(host, ':') != NULL;
        snprintf(cl->base, sizeof(cl->base), "%s://%s%s%s:%u",
                 cfg.http.tls.cert_file ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
                 cfg.visualization.dashboard_port);
        cl->url = cl->base;
    }
    if (!cl->token)
        cl->token = getenv("ARTHAMON_TOKEN");
    if (!cl->token && cfg.http.auth.bearer_token)
        cl->token = cl->file_token = strdup(cfg.http.auth.bearer_token);
    if (!cl->token && cfg.http.auth.bearer_token_file) {
        FILE *f = fopen(cfg.http.auth.bearer_token_file, "re");
        char line[AUTH_MAX_SECRET + 2];
        if (f && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = '\0';
            cl->token = cl->file_token = strdup(line);
        }
        if (f)
            fclose(f);
    }
    config_done(&cfg);
    return 0;
}

static const struct curl_dl *cu;

/* libcurl, loaded at run time (common/curl_dl.h says why). */
static int curl_load(void)
{
    const char *why = "";

    if (!(cu = curl_dl_load(&why))) {
        fprintf(stderr, "arthamon: this command needs libcurl: %s\n", why);
        return -1;
    }
    return 0;
}

/* GET base+path; the body into out. Returns the HTTP status, or -1 (message printed). */
static long client_get(struct client *cl, const char *path, struct strbuf *out)
{
    CURL *h = cu->easy_init();
    struct curl_slist *hdrs = NULL;
    char url[1024], auth[AUTH_MAX_SECRET + 32];
    const char *user = getenv("ARTHAMON_USER"), *pass = getenv("ARTHAMON_PASSWORD");
    long status = -1;
    CURLcode rc;

    if (!h) {
        fprintf(stderr, "arthamon: cannot initialise libcurl\n");
        return -1;
    }
    snprintf(url, sizeof(url), "%s%s", cl->url, path);
    cu->easy_setopt(h, CURLOPT_URL, url);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, out);
    cu->easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cl->cacert)
        cu->easy_setopt(h, CURLOPT_CAINFO, cl->cacert);
    if (cl->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->token);
        hdrs = cu->slist_append(hdrs, auth);
        auth_wipe(auth, sizeof(auth));
        cu->easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    } else if (user && pass) {
        cu->easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        cu->easy_setopt(h, CURLOPT_USERNAME, user);
        cu->easy_setopt(h, CURLOPT_PASSWORD, pass);
    }
    rc = cu->easy_perform(h);
    if (rc != CURLE_OK)
        fprintf(stderr, "arthamon: %s: %s\n", url, cu->easy_strerror(rc));
    else
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu->slist_free_all(hdrs);
    cu->easy_cleanup(h);
    return status;
}

static bool client_opt(struct client *cl, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (cli_config_opt(argc, argv, i, &cl->config_path))
        return true;
    if (*i + 1 < argc && !strcmp(a, "--url")) {
        cl->url = argv[++*i];
        return true;
    }
    if (*i + 1 < argc && !strcmp(a, "--cacert")) {
        cl->cacert = argv[++*i];
        return true;
    }
    if (*i + 1 < argc && !strcmp(a, "--token")) {
        cl->token = argv[++*i];
        return true;
    }
    if (!strcmp(a, "--json")) {
        cl->json = true;
        return true;
    }
    return false;
}

static int finish(struct client *cl, long status, struct strbuf *body, int rc_ok)
{
    int rc = rc_ok;

    if (status < 0) {
        rc = 1;
    } else if (status != 200) {
        fprintf(stderr, "arthamon: the daemon answered %ld: %s", status,
                body->buf ? body->buf : "\n");
        rc = 1;
    } else if (body->buf) {
        fputs(body->buf, stdout);
    }
    strbuf_done(body);
    free(cl->file_token);
    return rc;
}

#define CLIENT_USAGE "[-c FILE] [--url URL] [--token T] [--cacert FILE] [--json]"

int cmd_status(int argc, char **argv)
{
    struct client cl = {0};
    struct strbuf body;
    long st;

    for (int i = 1; i < argc; i++) {
        if (!client_opt(&cl, argc, argv, &i)) {
            fprintf(stderr, "usage: arthamon status " CLIENT_USAGE "\n");
            return 2;
        }
    }
    if (client_setup(&cl) < 0)
        return 2;
    if (curl_load() < 0) {
        free(cl.file_token);
        return 1;
    }
    strbuf_init(&body, MAX_BODY);
    st = client_get(&cl, "/healthz", &body);
    if (st != 200 && st != 503)
        return finish(&cl, st, &body, 1);
    fputs(body.buf ? body.buf : "", stdout);
    strbuf_reset(&body);
    st = client_get(&cl, cl.json ? "/api/v1/snapshot" : "/api/v1/snapshot?format=text", &body);
    return finish(&cl, st, &body, 0);
}

int cmd_anomalies(int argc, char **argv)
{
    struct client cl = {0};
    struct strbuf body;
    uint64_t limit = 20, sev = 1;
    char path[128];

    for (int i = 1; i < argc; i++) {
        if (client_opt(&cl, argc, argv, &i))
            continue;
        if (i + 1 < argc && !strcmp(argv[i], "--limit") && parse_u64(argv[i + 1], &limit) == 0 &&
            limit >= 1 && limit <= 1000) {
            i++;
            continue;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--min-severity") &&
            parse_u64(argv[i + 1], &sev) == 0 && sev >= 1 && sev <= 5) {
            i++;
            continue;
        }
        fprintf(stderr, "usage: arthamon anomalies " CLIENT_USAGE
                        " [--limit 1..1000] [--min-severity 1..5]\n");
        return 2;
    }
    if (client_setup(&cl) < 0)
        return 2;
    if (curl_load() < 0) {
        free(cl.file_token);
        return 1;
    }
    strbuf_init(&body, MAX_BODY);
    snprintf(path, sizeof(path), "/api/v1/anomalies?limit=%llu&min_severity=%llu%s",
             (unsigned long long)limit, (unsigned long long)sev, cl.json ? "" : "&format=text");
    return finish(&cl, client_get(&cl, path, &body), &body, 0);
}

/* Reads a password (no echo on a terminal) and prints its salted hash. */
int cmd_hash_password(int argc, char **argv)
{
    char pw[AUTH_MAX_SECRET + 2], hash[256];
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO);
    int r;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: arthamon hash-password < password (or type it)\n");
        return 2;
    }
    if (tty) {
        fprintf(stderr, "password: ");
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    if (!fgets(pw, sizeof(pw), stdin))
        pw[0] = '\0';
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    r = auth_hash_password(pw, hash, sizeof(hash));
    auth_wipe(pw, sizeof(pw));
    if (r < 0) {
        fprintf(stderr, "arthamon: %s\n",
                r == -EINVAL ? "the password must be 1 to 511 bytes" : "cannot hash the password");
        return 1;
    }
    printf("%s\n", hash);
    return 0;
}
