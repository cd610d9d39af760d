/* image.h — uploaded pictures: what they really are, how big, and a clean copy.
 *
 * Decoding is libavcodec's (mjpeg, png and webp decoders, already linked for the
 * audio work; libswscale converts and scales): no second image library to keep.
 * The pixel limit is checked twice before a pixel is decoded: from the file's own
 * header (image_header_size: PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X), and by the
 * decoder itself (AVCodecContext.max_pixels, checked before libavcodec allocates a
 * frame), so a 20000×20000 PNG costs a few bytes of reading, never 1.6 GB.
 *
 * The stored copy is re-encoded from the decoded pixels, EXIF orientation applied:
 * nothing of the original's metadata (EXIF, GPS, XMP, ICC, comments) survives.
 * JPEG and WebP are stored as JPEG (quality ~90), PNG as PNG (alpha kept). The
 * thumbnail is a JPEG of at most IMAGE_THUMB_MAX pixels on its longer side.
 *
 * No shell, no file names from users: the caller gives paths it made. */
#ifndef RV_IMAGE_H
#define RV_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum image_type {
    IMAGE_NONE = 0, /* nothing we know */
    IMAGE_JPEG,
    IMAGE_PNG,
    IMAGE_WEBP,
    IMAGE_GIF, /* recognised to be refused by name */
} image_type;

enum {
    IMAGE_MAX_BYTES = 10 * 1024 * 1024, /* an upload; nginx and the handler say the same */
    IMAGE_MAX_PIXELS = 40 * 1000 * 1000,
    IMAGE_THUMB_MAX = 320,
};

/* The type that head[0..n) announces by its magic bytes: FF D8 FF → jpeg;
 * 89 "PNG" 0D 0A 1A 0A → png; "RIFF" size "WEBP" → webp; "GIF87a"/"GIF89a" → gif.
 * head may be NULL when n is 0. */
image_type image_sniff(const unsigned char *head, size_t n);

/* The width and height the header of buf[0..n) (of type t) declares, without
 * decoding: PNG's IHDR, the first JPEG SOFn frame header (walking the marker
 * segments), WebP's VP8 key frame, VP8L or VP8X header. False when the header is
 * missing, cut short or declares a zero size; *w, *h untouched then. */
bool image_header_size(image_type t, const unsigned char *buf, size_t n, int *w, int *h);

typedef enum image_status {
    IMAGE_OK = 0,
    IMAGE_UNSUPPORTED, /* not jpeg, png or webp (415) */
    IMAGE_TOO_LARGE,   /* over the pixel limit (422) */
    IMAGE_UNDECODABLE, /* damaged, truncated, animated... (422) */
    IMAGE_FAILED,      /* out of memory, cannot write the output (500) */
} image_status;

typedef struct image_result {
    image_type type;          /* of the upload */
    const char *content_type; /* of the stored copy: "image/jpeg" or "image/png" */
    const char *ext;          /* "jpg" or "png" */
    int width, height;        /* of the stored copy, orientation applied */
    int orientation;          /* the EXIF orientation found (1..8), 1 without */
    size_t bytes;             /* of the stored copy */
} image_result;

/* Decodes buf[0..n) (borrowed), at most max_pixels pixels (≤ 0: IMAGE_MAX_PIXELS),
 * applies its EXIF orientation and writes the clean copy to out_path and the
 * thumbnail to thumb_path (both created or replaced; on failure neither is left
 * half-written, but either may exist: the caller removes its work files). out: set
 * on IMAGE_OK (type also on the refusals that know it). */
image_status image_process(const unsigned char *buf, size_t n, long max_pixels,
                           const char *out_path, const char *thumb_path, image_result *out);

/* Writes frame f (any pixel format libswscale reads) as a JPEG of at most max_side
 * pixels on its longer side (≤ 0: its own size) to path; *bytes: its size. A video's
 * poster (media_video.c). False when it cannot be converted or written. */
struct AVFrame;
bool image_frame_jpeg(const struct AVFrame *f, int max_side, const char *path, size_t *bytes);

#endif
