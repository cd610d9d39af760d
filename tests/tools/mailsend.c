/* mailsend — drives mail_send() (common/mail_outbox.c) from the command line for
 * the integration tests: the message on standard input goes to URL.
 *
 *   mailsend URL FROM TO [--starttls]
 *
 * Exit status: 0 sent, 1 to be retried, 2 refused for good, 64 bad usage. The
 * reason of a failure goes to standard error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_outbox.h"

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--starttls"))) {
        fprintf(stderr, "usage: mailsend URL FROM TO [--starttls] <message\n");
        return 64;
    }
    static char msg[1 << 20];
    size_t n = fread(msg, 1, sizeof msg - 1, stdin);
    msg[n] = '\0';
    char why[256] = "";
    mail_smtp s = {.url = argv[1], .starttls = argc == 5, .timeout_ms = 10000};
    mail_result r = mail_send(&s, argv[2], argv[3], msg, why, sizeof why);
    if (r != MAIL_SENT)
        fprintf(stderr, "%s\n", why);
    return r == MAIL_SENT ? 0 : r == MAIL_RETRY ? 1 : 2;
}
