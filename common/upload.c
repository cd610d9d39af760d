#include "upload.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bind.h"

/* ---- types --------------------------------------------------------------------------- */

static const struct {
    const char *ext, *mime, *demuxer;
} types[] = {
    [UPLOAD_NONE] = {NULL, NULL, NULL},
    [UPLOAD_MP3] = {"mp3", "audio/mpeg", "mp3"},
    [UPLOAD_WAV] = {"wav", "audio/wav", "wav"},
    [UPLOAD_OGG] = {"ogg", "audio/ogg", "ogg"},
    [UPLOAD_WEBM] = {"webm", "audio/webm", "matroska,webm"},
    [UPLOAD_FLAC] = {"flac", "audio/flac", "flac"},
};
enum { N_TYPES = sizeof types / sizeof types[0] };

const char *upload_ext(upload_type t)
{
    return (unsigned)t < N_TYPES ? types[t].ext : NULL;
}

const char *upload_content_type(upload_type t)
{
    return (unsigned)t < N_TYPES ? types[t].mime : NULL;
}

bool upload_format_matches(upload_type t, const char *demuxer)
{
    return (unsigned)t < N_TYPES && types[t].demuxer && demuxer &&
           !strcmp(types[t].demuxer, demuxer);
}

bool upload_content_type_ok(const char *ct)
{
    static const char *const allowed[] = {"audio/mpeg", "audio/wav",  "audio/x-wav",
                                          "audio/ogg",  "audio/webm", "audio/flac"};
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    const char *rest = ct + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != ';')
        return false;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strlen(allowed[i]) == n && !strncasecmp(ct, allowed[i], n))
            return true;
    return false;
}

/* ---- sniffing ------------------------------------------------------------------------ */

size_t upload_id3_len(const unsigned char *h, size_t n)
{
    /* "ID3", major version 2..4, revision not 0xFF, four syncsafe size bytes. */
    if (n < 10 || memcmp(h, "ID3", 3) || h[3] < 2 || h[3] > 4 || h[4] == 0xFF)
        return 0;
    size_t size = 0;
    for (int i = 6; i < 10; i++) {
        if (h[i] & 0x80)
            return 0;
        size = size << 7 | h[i];
    }
    return 10 + size + ((h[5] & 0x10) ? 10 : 0);
}

/* An MPEG audio Layer III frame header: 11 sync bits, a version that exists, a
 * bitrate that is neither "free" nor "bad", a sample rate that exists. (Layers I
 * and II and AAC's ADTS, which share the sync, are not mp3.) */
static bool mp3_frame(const unsigned char *h, size_t n)
{
    if (n < 4 || h[0] != 0xFF || (h[1] & 0xE0) != 0xE0)
        return false;
    unsigned version = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3;
    unsigned bitrate = h[2] >> 4, rate = (h[2] >> 2) & 3;
    return version != 1 && layer == 1 && bitrate != 0 && bitrate != 15 && rate != 3;
}

/* An EBML variable-length integer at p[0..n): its length into *len and its value
 * (with the length marker kept for element ids) into *val. */
static bool ebml_vint(const unsigned char *p, size_t n, bool keep_marker, size_t *len,
                      uint64_t *val)
{
    if (n == 0 || p[0] == 0)
        return false;
    size_t l = 1;
    while (!(p[0] & (0x80 >> (l - 1))))
        l++;
    if (l > 8 || l > n)
        return false;
    uint64_t v = keep_marker ? p[0] : p[0] & (0xFFu >> l);
    for (size_t i = 1; i < l; i++)
        v = v << 8 | p[i];
    *len = l;
    *val = v;
    return true;
}

/* Whether the EBML header at h[0..n) (starting with its id) declares DocType
 * "webm". The header's children are walked; anything malformed or cut off is no. */
static bool ebml_webm(const unsigned char *h, size_t n)
{
    size_t pos = 4, l;
    uint64_t size, id, len;
    if (!ebml_vint(h + pos, n - pos, false, &l, &size))
        return false;
    pos += l;
    size_t end = size < n - pos ? pos + (size_t)size : n;
    while (pos < end) {
        if (!ebml_vint(h + pos, end - pos, true, &l, &id))
            return false;
        pos += l;
        if (!ebml_vint(h + pos, end - pos, false, &l, &len))
            return false;
        pos += l;
        if (len > end - pos)
            return false;
        if (id == 0x4282) { /* DocType: a string, maybe padded with NULs */
            if (len < 4 || memcmp(h + pos, "webm", 4))
                return false;
            for (size_t i = 4; i < len; i++)
                if (h[pos + i])
                    return false;
            return true;
        }
        pos += (size_t)len;
    }
    return false;
}

upload_type upload_sniff(const unsigned char *h, size_t n)
{
    if (!h || n < 4)
        return UPLOAD_NONE;
    if (upload_id3_len(h, n) || mp3_frame(h, n))
        return UPLOAD_MP3;
    if (n >= 12 && !memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVE", 4))
        return UPLOAD_WAV;
    if (!memcmp(h, "OggS", 4))
        return UPLOAD_OGG;
    if (!memcmp(h, "fLaC", 4))
        return UPLOAD_FLAC;
    if (!memcmp(h, "\x1A\x45\xDF\xA3", 4) && ebml_webm(h, n))
        return UPLOAD_WEBM;
    return UPLOAD_NONE;
}

upload_type upload_sniff_fd(int fd)
{
    unsigned char h[UPLOAD_SNIFF_BYTES];
    off_t off = 0;
    ssize_t n = pread(fd, h, sizeof h, off);
    if (n <= 0)
        return UPLOAD_NONE;
    /* Tags may be stacked; a few is plenty for any real file. */
    for (int tags = 0; tags < 4; tags++) {
        size_t id3 = upload_id3_len(h, (size_t)n);
        if (!id3)
            break;
        off += (off_t)id3;
        n = pread(fd, h, sizeof h, off);
        if (n <= 0)
            return UPLOAD_MP3; /* only tags: the decoder will find no audio */
        if (upload_sniff(h, (size_t)n) == UPLOAD_FLAC)
            return UPLOAD_FLAC;
    }
    return off ? UPLOAD_MP3 : upload_sniff(h, (size_t)n);
}

/* ---- filenames ----------------------------------------------------------------------- */

/* Decodes one code point of valid UTF-8 at s; *len gets its byte length. */
static uint32_t utf8_next(const unsigned char *s, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *len = 2;
        return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0) {
        *len = 3;
        return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
           (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

/* Characters that a name never needs and that can hide or reorder what a reader
 * sees: C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks,
 * the BOM. */
static bool dropped(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x200E || c == 0x200F ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

const char *upload_filename(arena *a, const char *raw, const char **out)
{
    if (!raw)
        return "is required";
    size_t n = strlen(raw);
    if (!bind_utf8_valid(raw, n))
        return "must be valid UTF-8";
    const char *base = raw;
    for (const char *p = raw; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    n = strlen(base);
    char *buf = arena_alloc(a, n + 1);
    size_t k = 0, chars = 0;
    for (size_t i = 0, len; i < n; i += len) {
        uint32_t c = utf8_next((const unsigned char *)base + i, &len);
        if (dropped(c))
            continue;
        memcpy(buf + k, base + i, len);
        k += len;
    }
    buf[k] = '\0';
    size_t start = 0;
    while (start < k && (buf[start] == ' ' || buf[start] == '.'))
        start++;
    while (k > start && (buf[k - 1] == ' ' || buf[k - 1] == '.'))
        k--;
    buf[k] = '\0';
    if (start == k)
        return "must hold a name, not only dots, spaces, slashes or control characters";
    for (size_t i = start, len; i < k; i += len, chars++)
        (void)utf8_next((const unsigned char *)buf + i, &len);
    if (chars > UPLOAD_NAME_MAX)
        return "must be at most 255 characters";
    *out = buf + start;
    return NULL;
}

/* ---- nginx's body files -------------------------------------------------------------- */

bool upload_path_ok(const char *dir, const char *path)
{
    if (!dir || !path || dir[0] != '/')
        return false;
    size_t d = strlen(dir);
    while (d > 1 && dir[d - 1] == '/')
        d--;
    if (strncmp(path, dir, d) || path[d] != '/')
        return false;
    int segments = 0;
    for (const char *p = path + d; *p == '/'; segments++) {
        size_t digits = strspn(p + 1, "0123456789");
        if (digits == 0)
            return false;
        p += 1 + digits;
        if (*p && *p != '/')
            return false;
    }
    return segments >= 1 && segments <= 4 && path[strlen(path) - 1] != '/';
}
