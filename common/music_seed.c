#include "music_seed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "filereg.h"
#include "log.h"
#include "media.h"
#include "storage.h"

typedef struct piece {
    const char *title;
    int seconds;
    double root;         /* Hz of the lowest note */
    double chords[4][4]; /* semitones above root */
    double wind;         /* noise level */
} piece;

static const piece pieces[] = {
    {"Generated ambient I: Slow Pads (synthesised by Reelvox)",
     96,
     110.0,
     {{0, 7, 12, 15}, {-4, 3, 8, 12}, {-2, 5, 10, 14}, {-5, 2, 7, 11}},
     0.02},
    {"Generated ambient II: Drift (synthesised by Reelvox)",
     78,
     98.0,
     {{0, 4, 7, 11}, {5, 9, 12, 16}, {2, 5, 9, 12}, {7, 11, 14, 17}},
     0.035},
    {"Generated ambient III: Low Tide (synthesised by Reelvox)",
     114,
     82.4,
     {{0, 7, 10, 15}, {3, 10, 15, 19}, {-2, 5, 10, 14}, {0, 5, 12, 15}},
     0.05},
};
enum { N_PIECES = sizeof pieces / sizeof pieces[0], CHORD_S = 8, FADE_S = 3 };

static const db_stmt seed = {"SELECT rv_music_seed($1, $2, $3, $4, $5)", 5};
static const db_stmt have = {"SELECT rv_music_seeded()", 0};

/* A small deterministic noise source (xorshift32). */
static double noise(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (double)*s / 2147483648.0 - 1.0;
}

rv_err music_seed_render(int which, int seconds, const char *path, int64_t *duration_ms, char *why,
                         size_t why_len)
{
    if (seconds < 1 || seconds > 600) {
        snprintf(why, why_len, "1 to 600 seconds");
        return RV_E_UNPROCESSABLE;
    }
    const piece *p = &pieces[((which % N_PIECES) + N_PIECES) % N_PIECES];
    media_writer *w;
    rv_err er =
        media_writer_open(&w, path, MEDIA_MP3, MUSIC_SEED_RATE, MUSIC_SEED_RATE, why, why_len);
    if (er != RV_OK)
        return er;
    enum { BLOCK = 4410 };
    int16_t buf[BLOCK];
    const long total = (long)seconds * MUSIC_SEED_RATE;
    uint32_t rng = 0x9e3779b9u + (uint32_t)which;
    double phase[2][4] = {{0}}, lp = 0, lp2 = 0;
    for (long done = 0; done < total && er == RV_OK;) {
        int n = total - done < BLOCK ? (int)(total - done) : BLOCK;
        for (int i = 0; i < n; i++) {
            double t = (double)(done + i) / MUSIC_SEED_RATE;
            int c = (int)(t / CHORD_S) % 4, next = (c + 1) % 4;
            /* The last second of a chord glides into the next one. */
            double into = fmod(t, CHORD_S) - (CHORD_S - 1);
            double mix = into > 0 ? 0.5 - 0.5 * cos(M_PI * into) : 0;
            double s = 0;
            for (int k = 0; k < 4; k++) {
                double swell = 0.55 + 0.45 * sin(2 * M_PI * (0.05 + 0.03 * k) * t + k);
                for (int ch = 0; ch < 2; ch++) {
                    double semi = p->chords[ch ? next : c][k];
                    double f = p->root * pow(2, semi / 12.0) *
                               (1 + 0.002 * sin(2 * M_PI * 0.2 * t + k)); /* slow vibrato */
                    phase[ch][k] += 2 * M_PI * f / MUSIC_SEED_RATE;
                    if (phase[ch][k] > 2 * M_PI)
                        phase[ch][k] -= 2 * M_PI;
                    double tone = sin(phase[ch][k]) + 0.25 * sin(2 * phase[ch][k]);
                    s += (ch ? mix : 1 - mix) * swell * tone / (k + 1.5);
                }
            }
            /* Wind: noise through two one-pole low-passes, swelling slowly. */
            lp += 0.02 * (noise(&rng) - lp);
            lp2 += 0.02 * (lp - lp2);
            s += p->wind * 12 * lp2 * (0.6 + 0.4 * sin(2 * M_PI * 0.07 * t));
            double env = fmin(1, fmin(t / FADE_S, (seconds - t) / FADE_S));
            buf[i] = (int16_t)lrint(fmax(-1, fmin(1, 0.35 * s * env)) * 32000);
        }
        er = media_writer_write(w, buf, (size_t)n, why, why_len);
        done += n;
    }
    if (er != RV_OK) {
        media_writer_abort(w);
        return er;
    }
    media_written res;
    if ((er = media_writer_finish(w, &res, why, why_len)) == RV_OK && duration_ms)
        *duration_ms = res.duration_ms;
    return er;
}

/* Makes, stores and records one piece. */
static rv_err add_piece(rv_req *rq, int i)
{
    char why[160] = "";
    const char *key = store_new_key(rq->a, "music", NULL, NULL, "mp3");
    char *tmp;
    rv_err er = store_temp_path(rq->a, key, &tmp);
    if (er != RV_OK)
        return er;
    int64_t ms = 0;
    if ((er = music_seed_render(i, pieces[i].seconds, tmp, &ms, why, sizeof why)) != RV_OK) {
        log_msg(LOG_ERROR, "music seed: %s", why);
        return er;
    }
    struct stat st;
    if (stat(tmp, &st) != 0 || (er = filereg_register(rq, &key, 1)) != RV_OK) {
        remove(tmp);
        return er != RV_OK ? er : RV_E_INTERNAL;
    }
    if ((er = store_commit(rq->a, tmp, key)) != RV_OK) {
        filereg_drop(rq, key);
        return er;
    }
    const char *p[] = {pieces[i].title, "audio/mpeg",
                       arena_printf(rq->a, "%lld", (long long)st.st_size),
                       arena_printf(rq->a, "%lld", (long long)ms), key};
    PGresult *r;
    if ((er = db_query(rq, &seed, p, &r)) != RV_OK || strcmp(db_get(r, 0, 0), "t")) {
        filereg_drop(rq, key); /* failed, or another run recorded it first */
        return er;
    }
    log_msg(LOG_INFO, "music seed: added \"%s\" (%lld ms)", pieces[i].title, (long long)ms);
    return RV_OK;
}

int music_seed_all(rv_req *rq)
{
    PGresult *r;
    if (db_query(rq, &have, NULL, &r) != RV_OK) {
        log_msg(LOG_ERROR, "music seed: the database did not answer");
        return -1;
    }
    int added = 0;
    for (int i = 0; i < N_PIECES; i++) {
        bool there = false;
        for (int k = 0; k < PQntuples(r) && !there; k++)
            there = !strcmp(db_get(r, k, 0), pieces[i].title);
        if (there)
            continue;
        if (add_piece(rq, i) != RV_OK) {
            log_msg(LOG_ERROR, "music seed: \"%s\" could not be made", pieces[i].title);
            return -1;
        }
        added++;
    }
    return added;
}
