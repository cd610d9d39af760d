/* local_video_render.c — the narrated explainers' video_render job at the local
 * provider (issue 10). A placeholder until that work lands: it replaces this file
 * with one that builds a render_spec from the job (images with durations and
 * motion, the narration as the voice track, music ducked under it, captions) and
 * calls local_video_finish(). */
#include "local_video.h"

int local_video_render(rv_req *rq, const local_job *job)
{
    return local_video_fail(rq, job, "not_available",
                            "narrated videos cannot be rendered on this server yet");
}
