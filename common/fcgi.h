/* fcgi.h — the FastCGI record layer of the serve loop (FastCGI 1.0, responder role).
 *
 * A connection is a byte parser with no socket of its own: the serve loop feeds it
 * what it reads, asks it for the next complete request, and sends what it has put
 * in its output buffer (the response records and the answers to management records).
 * One request at a time per connection (FCGI_MPXS_CONNS=0: a second BEGIN_REQUEST
 * while one is open is refused with FCGI_CANT_MPX_CONN); the connection is kept
 * after END_REQUEST when the web server asked for it (FCGI_KEEP_CONN). Records:
 * BEGIN_REQUEST, ABORT_REQUEST, PARAMS (name-value pairs), STDIN, DATA (ignored),
 * GET_VALUES (answered), anything else of id 0 (FCGI_UNKNOWN_TYPE); the connection
 * writes STDOUT, STDERR and END_REQUEST. A peer that breaks the framing (version,
 * lengths, malformed pairs, limits) gets the connection closed. */
#ifndef RV_FCGI_H
#define RV_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

enum {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
    FCGI_UNKNOWN_TYPE = 11,
};

enum {
    FCGI_REQUEST_COMPLETE = 0,
    FCGI_CANT_MPX_CONN = 1,
    FCGI_OVERLOADED = 2,
    FCGI_UNKNOWN_ROLE = 3
};

enum {
    FCGI_PARAMS_MAX = 256 * 1024,     /* bytes of name-value pairs per request */
    FCGI_INPUT_MAX = 8 * 1024 * 1024, /* unparsed input held at once */
};

typedef enum {
    FCGI_AGAIN, /* more input is needed */
    FCGI_READY, /* a request is complete: fcgi_env(), body; then fcgi_respond() */
    FCGI_BAD,   /* protocol error: send what is in out, then close */
} fcgi_status;

typedef struct fcgi_conn {
    unsigned char *in; /* fed, not yet parsed: in[in_off..in_len) */
    size_t in_off, in_len, in_cap;
    unsigned char *out; /* to send: out[0..out_len) */
    size_t out_len, out_cap;
    /* Answers to FCGI_GET_VALUES. */
    int max_conns, max_reqs;
    /* The request being read or served (id 0: none). */
    uint16_t id;
    bool keep, params_done, stdin_done, close_after; /* close once out is sent */
    unsigned char *params;
    size_t params_len, params_cap;
    char *body; /* NUL-terminated; at most body_limit bytes are kept */
    size_t body_len, body_cap, body_limit;
    size_t body_seen; /* STDIN bytes received, kept or not */
} fcgi_conn;

/* A connection keeping at most body_limit bytes of each request body. */
void fcgi_init(fcgi_conn *c, size_t body_limit);
void fcgi_free(fcgi_conn *c);

/* Appends n bytes read from the peer; false when more than FCGI_INPUT_MAX would be
 * held unparsed (close the connection). */
bool fcgi_feed(fcgi_conn *c, const void *buf, size_t n);

/* Parses the input fed so far (answering management records into out) until a
 * request is complete. */
fcgi_status fcgi_parse(fcgi_conn *c);

/* The parameters of the ready request as a NULL-terminated array of "NAME=value"
 * strings in a (names or values with a NUL byte are cut there). */
char **fcgi_env(const fcgi_conn *c, arena *a);

/* Appends one stream's data as records of type (FCGI_STDOUT, FCGI_STDERR) of the
 * current request; len 0 appends the empty record that ends the stream. */
void fcgi_put_stream(fcgi_conn *c, int type, const void *data, size_t len);

/* Ends the ready request: its whole response as STDOUT, the end of STDOUT, and
 * END_REQUEST; forgets the request. Returns false when the connection is to be
 * closed once out is sent (the server did not ask to keep it). */
bool fcgi_respond(fcgi_conn *c, const void *data, size_t len);

/* Marks out as sent. */
void fcgi_sent(fcgi_conn *c, size_t n);

#endif
