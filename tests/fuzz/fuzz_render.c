/* fuzz_render.c — what the render engine's graph builder does with text it did not
 * choose: render_escape() must come back exactly through libavfilter's two parsing
 * levels (av_get_token with "[],;", then with ":") and leave nothing over, and
 * render_wrap() must keep every character of a caption (only blanks and line
 * breaks move) within its line width. */
#include <stdlib.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <unistr.h>

#include "fuzz.h"
#include "render/render_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = fuzz_arena();
    const char *s = fuzz_str(a, data, size);
    char *e = render_escape(s);
    if (!e)
        abort();
    const char *p = e;
    char *graph = av_get_token(&p, "[],;");
    if (!graph || *p)
        abort(); /* the graph parser stopped inside the value */
    const char *q = graph;
    char *opt = av_get_token(&q, ":");
    if (!opt || *q || strcmp(opt, s))
        abort(); /* the option parser did not get the value back */
    av_free(opt);
    av_free(graph);
    free(e);

    int width = 4 + (size ? data[0] % 40 : 0);
    char *w = render_wrap(s, width);
    if (!w)
        return 0; /* not UTF-8: refused */
    size_t kept = 0, seen = 0;
    for (const char *c = s; *c; c++)
        seen += *c != ' ' && *c != '\t' && *c != '\r' && *c != '\n';
    int col = 0;
    for (const char *c = w; *c;) {
        if (*c == '\n') {
            col = 0;
            c++;
            continue;
        }
        int len = u8_mblen((const uint8_t *)c, strlen(c));
        if (len < 1 || ++col > width)
            abort();
        for (int k = 0; k < len; k++)
            kept += c[k] != ' ';
        c += len;
    }
    if (kept != seen)
        abort(); /* a character was lost or made up */
    free(w);
    return 0;
}
