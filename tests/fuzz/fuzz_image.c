/* fuzz_image.c — the image upload path (common/image.c) on arbitrary bytes:
 * sniffing, the header walk that reads the size before any pixel is decoded (PNG
 * IHDR, JPEG marker segments, WebP chunks), then image_process: the libavcodec
 * decode under a pixel limit, orientation, re-encoding and the thumbnail. The
 * limit is small here (1 megapixel) so a run stays fast; the limit's check is
 * the same code whatever its value. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[64], thumb[64];
    if (!out[0]) {
        snprintf(out, sizeof out, "/tmp/fuzz-image-%d.out", (int)getpid());
        snprintf(thumb, sizeof thumb, "/tmp/fuzz-image-%d.thumb", (int)getpid());
    }
    image_type t = image_sniff(data, size);
    int w = 0, h = 0;
    if (image_header_size(t, data, size, &w, &h) && (w <= 0 || h <= 0))
        abort();
    image_result r;
    image_status st = image_process(data, size, 1000 * 1000, out, thumb, &r);
    if (st == IMAGE_OK && (r.width <= 0 || r.height <= 0 ||
                           (long long)r.width * r.height > 1000 * 1000 || r.bytes == 0))
        abort();
    unlink(out);
    unlink(thumb);
    return 0;
}
