#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

typedef struct {
    http_call *call;
    arena *a;
    FILE *file;
    FILE *upload;
    size_t cap, got;
    char *buf;
    size_t buf_cap;
    struct curl_slist *headers;
    CURL *easy;
    char refused[160]; /* why an untrusted URL was refused */
} transfer;

/* ------------------------------------------------- untrusted URLs (downloads) */

static bool v4_public(const unsigned char *a)
{
    static const struct {
        uint32_t net;
        int bits;
    } blocked[] = {
        {0x00000000, 8},  /* "this" network */
        {0x0A000000, 8},  /* private */
        {0x64400000, 10}, /* shared address space (carrier-grade NAT) */
        {0x7F000000, 8},  /* loopback */
        {0xA9FE0000, 16}, /* link-local (cloud metadata services live here) */
        {0xAC100000, 12}, /* private */
        {0xC0000000, 24}, /* IETF protocol assignments */
        {0xC0000200, 24}, /* documentation */
        {0xC0586300, 24}, /* 6to4 relay anycast */
        {0xC0A80000, 16}, /* private */
        {0xC6120000, 15}, /* benchmarking */
        {0xC6336400, 24}, /* documentation */
        {0xCB007100, 24}, /* documentation */
        {0xE0000000, 4},  /* multicast */
        {0xF0000000, 4},  /* reserved, broadcast */
    };
    uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if ((x & (~0u << (32 - blocked[i].bits))) == blocked[i].net)
            return false;
    return true;
}

bool http_addr_public(const char *ip)
{
    unsigned char b[16];
    static const unsigned char zero[12], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
                                         nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (!ip)
        return false;
    if (inet_pton(AF_INET, ip, b) == 1)
        return v4_public(b);
    if (inet_pton(AF_INET6, ip, b) != 1)
        return false;
    if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
        return v4_public(b + 12);
    if (!memcmp(b, zero, 12))
        return false; /* ::, ::1, IPv4-compatible */
    if (b[0] == 0x20 && b[1] == 0x02)
        return v4_public(b + 2); /* 6to4 */
    if ((b[0] & 0xfe) == 0xfc || b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0x80)))
        return false; /* unique local, multicast, link- and site-local */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return false; /* documentation */
    if (b[0] == 0x01 && !memcmp(b + 1, zero, 7))
        return false; /* discard-only */
    return true;
}

/* "scheme://host:port" of url, lower case, with the scheme's default port. */
static bool origin_of(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        int len = snprintf(out, n, "%s://%s:%s", scheme, host, port);
        ok = len > 0 && (size_t)len < n;
        for (char *p = out; ok && *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

bool http_same_origin(const char *a, const char *b)
{
    char oa[512], ob[512];
    return origin_of(a, oa, sizeof oa) && origin_of(b, ob, sizeof ob) && !strcmp(oa, ob);
}

/* Before each request of an untrusted call (the first and every redirect), once
 * connected: its URL's scheme and the address it reached. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)local_ip;
    (void)local_port;
    transfer *t = ud;
    http_call *c = t->call;
    char *url = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (url && c->trusted_origin && http_same_origin(url, c->trusted_origin))
        return CURL_PREREQFUNC_OK;
    const char *why = NULL;
    if (!url || (strncasecmp(url, "https://", 8) && !c->allow_http))
        why = "a download over plain http";
    else if (!c->allow_private && !http_addr_public(primary_ip))
        why = "a download from a non-public address";
    if (!why)
        return CURL_PREREQFUNC_OK;
    /* The address, not the URL: a provider's links carry their own signatures. */
    snprintf(t->refused, sizeof t->refused, "refused %s (%s port %d)", why,
             primary_ip ? primary_ip : "?", primary_port);
    c->refused = true;
    return CURL_PREREQFUNC_ABORT;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (t->got + n > t->cap) {
        t->call->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (t->file) {
        if (fwrite(data, 1, n, t->file) != n)
            return 0;
    } else {
        if (t->got + n + 1 > t->buf_cap) {
            size_t nc = t->buf_cap ? t->buf_cap * 2 : 4096;
            while (nc < t->got + n + 1)
                nc *= 2;
            char *nb = arena_alloc(t->a, nc);
            if (t->got)
                memcpy(nb, t->buf, t->got);
            t->buf = nb;
            t->buf_cap = nc;
        }
        memcpy(t->buf + t->got, data, n);
        t->buf[t->got + n] = '\0';
    }
    t->got += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    static const char ra[] = "retry-after:";
    if (n > sizeof ra && !strncasecmp(data, ra, sizeof ra - 1)) {
        char tmp[32];
        size_t m = n - (sizeof ra - 1);
        if (m >= sizeof tmp)
            m = sizeof tmp - 1;
        memcpy(tmp, data + sizeof ra - 1, m);
        tmp[m] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        if (end != tmp && v >= 0 && v < 86400)
            t->call->retry_after = v;
    }
    static const char rr[] = "x-ratelimit-remaining:", rs[] = "x-ratelimit-reset:";
    bool rem = n > sizeof rr && !strncasecmp(data, rr, sizeof rr - 1);
    if (rem || (n > sizeof rs && !strncasecmp(data, rs, sizeof rs - 1))) {
        char tmp[32];
        size_t skip = rem ? sizeof rr - 1 : sizeof rs - 1, m = n - skip;
        if (m >= sizeof tmp)
            m = sizeof tmp - 1;
        memcpy(tmp, data + skip, m);
        tmp[m] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            *(rem ? &t->call->ratelimit_remaining : &t->call->ratelimit_reset) = v;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    FILE *f = ud;
    size_t n = fread(buf, 1, size * nitems, f);
    return n == 0 && ferror(f) ? CURL_READFUNC_ABORT : n;
}

static void setup(transfer *t, CURLM *multi)
{
    http_call *c = t->call;
    CURL *e = curl_easy_init();
    t->easy = e;
    t->cap = c->max_bytes ? c->max_bytes : (c->save_to ? 512u << 20 : 4u << 20);
    if (c->save_to && !(t->file = fopen(c->save_to, "wb"))) {
        snprintf(c->error, sizeof c->error, "cannot write the download");
        return;
    }
    struct stat sb = {0};
    if (c->upload_from &&
        (!(t->upload = fopen(c->upload_from, "rb")) || fstat(fileno(t->upload), &sb) != 0)) {
        snprintf(c->error, sizeof c->error, "cannot read the file to send");
        return;
    }
    for (int i = 0; i < HTTP_MAX_HEADERS && c->headers[i]; i++)
        t->headers = curl_slist_append(t->headers, c->headers[i]);
    /* No 100-continue round trip. Not with SigV4: curl 7.88 signs the empty
     * "Expect:" that only removes the header, and the server, which never sees it,
     * computes another signature. */
    if (!c->aws_sigv4)
        t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method ? c->method : "GET");
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
    } else if (t->upload) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, t->upload);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sb.st_size);
    }
    if (c->aws_sigv4) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->aws_sigv4);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->username ? c->username : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms ? c->timeout_ms : 15000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* Plain http only where an untrusted call may use it at all; on_prereq checks
     * each request's scheme and address. */
    const char *protocols = "http,https";
    if (c->untrusted && !c->allow_http &&
        !(c->trusted_origin && !strncasecmp(c->trusted_origin, "http://", 7)))
        protocols = "https";
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    if (c->untrusted) {
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
    }
    /* An announced length over the cap ends the call before the body; the write
     * callback stops one that is not announced. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->cap);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "reelvox/0.1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->error);
    curl_multi_add_handle(multi, e);
}

void http_run(arena *a, http_call *calls, size_t n)
{
    /* One multi handle per process: its connection cache keeps connections to a
     * provider alive from one batch to the next (no TCP/TLS handshake per call). A
     * child forked after the parent used it makes its own and leaves the inherited
     * one alone: a shared connection would interleave two conversations, and
     * cleaning it up could end the parent's TLS sessions. */
    static CURLM *multi;
    static pid_t owner;
    if (multi && owner != getpid())
        multi = NULL;
    if (!multi) {
        owner = getpid();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        multi = curl_multi_init();
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 128L);
    }
    if (n == 0)
        return;
    transfer *ts = arena_alloc(a, n * sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        ts[i].call = &calls[i];
        ts[i].a = a;
        calls[i].status = 0;
        calls[i].error[0] = '\0';
        calls[i].retry_after = 0;
        calls[i].ratelimit_remaining = calls[i].ratelimit_reset = -1;
        calls[i].too_large = false;
        calls[i].refused = false;
        setup(&ts[i], multi);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        transfer *t;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (m->data.result == CURLE_FILESIZE_EXCEEDED)
            t->call->too_large = true;
        if (m->data.result == CURLE_OK)
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &t->call->status);
        else if (!t->call->error[0])
            snprintf(t->call->error, sizeof t->call->error, "%s",
                     curl_easy_strerror(m->data.result));
    }
    for (size_t i = 0; i < n; i++) {
        transfer *t = &ts[i];
        if (t->easy && t->call->provider) {
            curl_off_t us = 0;
            curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
            metrics_provider_call(t->call->provider, t->call->status, (double)us / 1e6);
        }
        if (t->easy) {
            curl_multi_remove_handle(multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        curl_slist_free_all(t->headers);
        if (t->upload)
            fclose(t->upload);
        if (t->file && fclose(t->file) != 0)
            t->call->status = 0;
        t->call->resp = t->buf ? t->buf : arena_strdup(a, "");
        t->call->resp_len = t->got;
        if (t->call->too_large) {
            t->call->status = 0;
            snprintf(t->call->error, sizeof t->call->error, "response too large");
        }
        if (t->call->refused) {
            t->call->status = 0;
            snprintf(t->call->error, sizeof t->call->error, "%s", t->refused);
        }
    }
}

bool http_transient(const http_call *c)
{
    if (c->too_large || c->refused)
        return false;
    return c->status == 0 || c->status == 408 || c->status == 425 || c->status == 429 ||
           c->status >= 500;
}
