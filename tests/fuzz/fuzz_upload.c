/* fuzz_upload.c — what common/upload.c reads from an uploaded file and its request:
 * the magic bytes (ID3v2, MPEG frame headers, RIFF/WAVE, OggS, fLaC, EBML with its
 * DocType), upload_sniff_fd() on a real file that skips ID3 tags, the client's
 * filename, the Content-Type, and the body-file path nginx names. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "bind.h"
#include "upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_upload", 0)) < 0)
        abort();
    arena *a = fuzz_arena();

    upload_type t = upload_sniff(data, size);
    if (t != UPLOAD_NONE && (!upload_ext(t) || !upload_content_type(t)))
        abort();
    size_t id3 = upload_id3_len(data, size);
    if (id3 && id3 < 10)
        abort();

    /* The same bytes as a file. */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    upload_type tf = upload_sniff_fd(fd);
    if (!id3 && size <= UPLOAD_SNIFF_BYTES && tf != t)
        abort(); /* without a tag to skip, the file says what its head says */

    /* The bytes as the texts a client chooses. */
    const char *s = fuzz_str(a, data, size), *name = NULL;
    const char *why = upload_filename(a, s, &name);
    if (!why && (!name || !*name || !bind_utf8_valid(name, strlen(name)) ||
                 bind_utf8_len(name) > UPLOAD_NAME_MAX || strchr(name, '/')))
        abort();
    (void)upload_content_type_ok(s);
    if (upload_path_ok("/var/lib/reelvox/body", s) &&
        (strstr(s, "..") || strstr(s, "//") || strncmp(s, "/var/lib/reelvox/body/", 22)))
        abort();
    return 0;
}
