/* storetool — the storage API from the command line, for tests against a real
 * backend (tests/integration/test_storage_s3.py). Settings come from the
 * environment as for any Reelvox program: RV_STORAGE, RV_S3_*, RV_DATA_DIR,
 * RV_PUBLIC_URL, RV_JWT_SECRET (optional here).
 *
 *   storetool backend               prints "local" or "s3"
 *   storetool put SRC KEY           store_put_file (SRC is gone afterwards)
 *   storetool commit SRC KEY        copies SRC into store_temp_path, prints that path,
 *                                   then store_commit
 *   storetool url KEY [TTL [NOW]]   prints store_signed_url (TTL 3600, NOW the clock)
 *   storetool fetch KEY DST         store_fetch
 *   storetool delete KEY            store_delete
 *
 * Exit status: 0 done, 1 failed, 2 not found, 64 usage, 78 settings refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "storage.h"

static int usage(void)
{
    fprintf(stderr, "usage: storetool backend | put SRC KEY | commit SRC KEY | "
                    "url KEY [TTL [NOW]] | fetch KEY DST | delete KEY\n");
    return 64;
}

static bool number(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static int status(rv_err er)
{
    return er == RV_OK ? 0 : er == RV_E_NOT_FOUND ? 2 : 1;
}

static int run(arena *a, int argc, char **argv)
{
    const char *cmd = argv[1];
    if (!strcmp(cmd, "backend") && argc == 2) {
        puts(store_backend());
        return 0;
    }
    if (!strcmp(cmd, "put") && argc == 4)
        return status(store_put_file(a, argv[2], argv[3]));
    if (!strcmp(cmd, "commit") && argc == 4) {
        char *tmp;
        if (store_temp_path(a, argv[3], &tmp) != RV_OK)
            return 1;
        puts(tmp);
        fflush(stdout);
        if (store_copy(argv[2], tmp) != RV_OK) {
            remove(tmp);
            return 1;
        }
        return status(store_commit(a, tmp, argv[3]));
    }
    if (!strcmp(cmd, "url") && argc >= 3 && argc <= 5) {
        long ttl = STORE_URL_TTL, now = (long)time(NULL);
        if ((argc > 3 && !number(argv[3], &ttl)) || (argc > 4 && !number(argv[4], &now)))
            return usage();
        if (!store_key_valid(argv[2]))
            return 1;
        puts(store_signed_url(a, argv[2], ttl, (time_t)now));
        return 0;
    }
    if (!strcmp(cmd, "fetch") && argc == 4)
        return status(store_fetch(a, argv[2], argv[3]));
    if (!strcmp(cmd, "delete") && argc == 3)
        return status(store_delete(a, argv[2]));
    return usage();
}

int main(int argc, char **argv)
{
    char why[256];
    if (argc < 2)
        return usage();
    log_init("storetool");
    if (!config_load(false, why, sizeof why) ||
        !store_init(config->jwt_secret, config->jwt_secret_len, config->data_dir,
                    config->public_url, why, sizeof why)) {
        log_msg(LOG_ERROR, "refusing to start: %s", why);
        return 78;
    }
    arena *a = arena_new();
    int rc = run(a, argc, argv);
    arena_free(a);
    return rc;
}
