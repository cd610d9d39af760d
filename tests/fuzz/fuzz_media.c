/* fuzz_media.c — media_probe() (common/media.c) on arbitrary bytes: libavformat's
 * demuxers behind our format and protocol whitelists and probe bounds, then a full
 * decode of the best audio stream. The bytes are a memory file opened by path
 * (/proc/self/fd/N), exactly as an upload or a provider's output is opened.
 *
 * libav itself is not instrumented (the distribution's build): coverage guides the
 * fuzzer through media.c, ASan's interceptors and LeakSanitizer watch the rest. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        if ((fd = memfd_create("fuzz_media", 0)) < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    media_info info;
    rv_err er = media_probe(path, &info);
    if (er == RV_OK) {
        if (!info.format[0])
            abort();
        if (info.has_audio &&
            (!info.codec[0] || info.duration_ms < 0 || info.duration_ms > MEDIA_MAX_DURATION_MS ||
             info.sample_rate <= 0 || info.channels <= 0))
            abort();
    } else if (er != RV_E_UNPROCESSABLE && er != RV_E_INTERNAL) {
        abort();
    }
    return 0;
}
