#include <curl/curl.h>

#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct curl_dl table;
static const struct curl_dl *loaded;
static char failure[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    static const char *const names[] = {
        "curl_easy_init",     "curl_easy_setopt",  "curl_easy_perform", "curl_easy_getinfo",
        "curl_easy_strerror", "curl_easy_cleanup", "curl_slist_append", "curl_slist_free_all",
    };
    void *fn[sizeof(names) / sizeof(names[0])];
    CURLcode (*global_init)(long flags);
    void *init, *lib = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!lib) {
        snprintf(failure, sizeof(failure), "cannot load %s: %s", CURL_DL_SONAME, dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(fn[i] = dlsym(lib, names[i]))) {
            snprintf(failure, sizeof(failure), "%s has no %s", CURL_DL_SONAME, names[i]);
            dlclose(lib);
            return;
        }
    }
    if (!(init = dlsym(lib, "curl_global_init"))) {
        snprintf(failure, sizeof(failure), "%s has no curl_global_init", CURL_DL_SONAME);
        dlclose(lib);
        return;
    }
    /* (object to function pointers: POSIX guarantees dlsym's are usable) */
    memcpy(&global_init, &init, sizeof(init));
    memcpy(&table.easy_init, &fn[0], sizeof(fn[0]));
    memcpy(&table.easy_setopt, &fn[1], sizeof(fn[1]));
    memcpy(&table.easy_perform, &fn[2], sizeof(fn[2]));
    memcpy(&table.easy_getinfo, &fn[3], sizeof(fn[3]));
    memcpy(&table.easy_strerror, &fn[4], sizeof(fn[4]));
    memcpy(&table.easy_cleanup, &fn[5], sizeof(fn[5]));
    memcpy(&table.slist_append, &fn[6], sizeof(fn[6]));
    memcpy(&table.slist_free_all, &fn[7], sizeof(fn[7]));
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(failure, sizeof(failure), "curl_global_init failed");
        return;
    }
    loaded = &table;
}

const struct curl_dl *curl_dl_load(const char **why)
{
    pthread_once(&once, load);
    if (!loaded && why)
        *why = failure;
    return loaded;
}
