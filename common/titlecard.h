/* titlecard.h — a still picture with a line of text on a plain background (the
 * local provider's image of a video section when no image provider is configured).
 *
 * libavfilter draws it (color source, drawtext with DejaVu Sans Bold from Debian's
 * fonts-dejavu-core) and libavcodec encodes it as a JPEG. The text never enters the
 * filter description: it is written to a file of ours that drawtext reads
 * (textfile=, with expansion=none: no %{...} sequence of the text is evaluated),
 * so no user text needs escaping; the paths that do enter it are
 * checked to hold none of the description's special characters. */
#ifndef RV_TITLECARD_H
#define RV_TITLECARD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TITLECARD_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

enum { TITLECARD_MAX_CHARS = 300 }; /* longer text is cut at a word, with "…" */

typedef struct titlecard_result {
    int64_t bytes;
    int width, height;
} titlecard_result;

/* Writes a width×height JPEG of text (UTF-8; wrapped at spaces into lines that
 * fit, at most 6 lines) to out_path (a new file; its folder must exist). work_path:
 * a file this may write and removes (the text for drawtext). index picks one of a
 * few background colours. Errors: RV_E_UNPROCESSABLE for a bad size or a path with
 * a special character, RV_E_INTERNAL for the rest (no font, encoder failure);
 * why says which. */
rv_err titlecard_render(const char *text, int width, int height, int index, const char *out_path,
                        const char *work_path, titlecard_result *out, char *why, size_t why_len);

#endif
