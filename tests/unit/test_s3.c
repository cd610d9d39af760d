/* s3: presigned URLs against AWS's published example, SigV4 percent-encoding, and
 * the checks on the settings. Requests themselves are tested against a real
 * S3-compatible server (tests/integration/test_storage_s3.py). */
#include "unit.h"

#include <time.h>

#include "s3.h"

/* AWS's example: "Authenticating Requests: Using Query Parameters (AWS Signature
 * Version 4)", GET examplebucket/test.txt on 24 May 2013, valid one day. */
static const s3_conf aws_example = {
    .endpoint = "https://examplebucket.s3.amazonaws.com",
    .bucket = "examplebucket",
    .region = "us-east-1",
    .key_id = "AKIAIOSFODNN7EXAMPLE",
    .secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
static const time_t may24_2013 = 1369353600; /* 2013-05-24T00:00:00Z */

static int setup(void **state)
{
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static void test_aws_vector(void **state)
{
    arena *a = *state;
    char *url = s3_presign_path(a, &aws_example, "/test.txt", may24_2013, 86400);
    assert_string_equal(
        url, "https://examplebucket.s3.amazonaws.com/test.txt"
             "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
             "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
             "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* The same again: now from the remembered signing key of the day. */
    assert_string_equal(s3_presign_path(a, &aws_example, "/test.txt", may24_2013, 86400), url);
    /* A default port is not part of the signed Host, nor of the URL. */
    s3_conf with_port = aws_example;
    with_port.endpoint = "https://examplebucket.s3.amazonaws.com:443/";
    assert_string_equal(s3_presign_path(a, &with_port, "/test.txt", may24_2013, 86400), url);
}

static void test_signature_inputs(void **state)
{
    arena *a = *state;
    const char *base = s3_presign_path(a, &aws_example, "/test.txt", may24_2013, 86400);
    const char *sig = strstr(base, "X-Amz-Signature=");
    assert_non_null(sig);
    /* Every input changes the signature: secret, region, time, path, expiry, host. */
    s3_conf other = aws_example;
    other.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    assert_null(strstr(s3_presign_path(a, &other, "/test.txt", may24_2013, 86400), sig));
    other = aws_example;
    other.region = "eu-west-1";
    char *eu = s3_presign_path(a, &other, "/test.txt", may24_2013, 86400);
    assert_null(strstr(eu, sig));
    assert_non_null(strstr(eu, "%2Feu-west-1%2Fs3%2F"));
    assert_null(strstr(s3_presign_path(a, &aws_example, "/test.txt", may24_2013 + 1, 86400), sig));
    assert_null(strstr(s3_presign_path(a, &aws_example, "/test.txu", may24_2013, 86400), sig));
    assert_null(strstr(s3_presign_path(a, &aws_example, "/test.txt", may24_2013, 86399), sig));
    other = aws_example;
    other.endpoint = "https://examplebucket.s3.amazonaws.com:8443";
    char *port = s3_presign_path(a, &other, "/test.txt", may24_2013, 86400);
    assert_null(strstr(port, sig));
    assert_non_null(strstr(port, "https://examplebucket.s3.amazonaws.com:8443/test.txt?"));
    /* Back to the first credentials: the cache follows the inputs. */
    assert_string_equal(s3_presign_path(a, &aws_example, "/test.txt", may24_2013, 86400), base);
}

static void test_presign_shape(void **state)
{
    arena *a = *state;
    s3_conf c = {.endpoint = "http://127.0.0.1:4569/",
                 .bucket = "rv-media",
                 .region = "us-east-1",
                 .key_id = "AKID",
                 .secret = "s/e+c:r=et"};
    char *url = s3_presign(a, &c, "audios/u1/20261122T000000-hi-abc.mp3", 1800000000, 3600);
    assert_non_null(strstr(url, "http://127.0.0.1:4569/rv-media/audios/u1/"
                                "20261122T000000-hi-abc.mp3?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                                "&X-Amz-Credential=AKID%2F20270115%2Fus-east-1%2Fs3%2Faws4_request"
                                "&X-Amz-Date=20270115T080000Z&X-Amz-Expires=3600"
                                "&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    const char *sig = strstr(url, "X-Amz-Signature=") + 16;
    assert_int_equal(strlen(sig), 64);
    for (const char *p = sig; *p; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    /* A path prefix of the endpoint comes before the bucket. */
    c.endpoint = "https://gw.example.com/storage/s3/";
    url = s3_presign(a, &c, "k.wav", 1800000000, 3600);
    assert_non_null(strstr(url, "https://gw.example.com/storage/s3/rv-media/k.wav?X-Amz-"));
    /* Expiry clamped to S3's range. */
    assert_non_null(strstr(s3_presign(a, &c, "k", 1800000000, 0), "&X-Amz-Expires=1&"));
    assert_non_null(strstr(s3_presign(a, &c, "k", 1800000000, 10000000), "&X-Amz-Expires=604800&"));
    /* No endpoint to speak of: no URL. */
    c.endpoint = "ftp://x";
    assert_null(s3_presign(a, &c, "k", 1800000000, 60));
}

static void test_uri_encode(void **state)
{
    arena *a = *state;
    static const struct {
        const char *in;
        bool keep_slash;
        const char *out;
    } cases[] = {
        {"", false, ""},
        {"AZaz09-._~", false, "AZaz09-._~"}, /* unreserved: as they are */
        {"a/b", false, "a%2Fb"},
        {"a/b", true, "a/b"},
        {"/a//b/", true, "/a//b/"},
        {"a b+c", false, "a%20b%2Bc"}, /* space is %20, never '+' */
        {"*'()!$&,;=:@?#[]%", false, "%2A%27%28%29%21%24%26%2C%3B%3D%3A%40%3F%23%5B%5D%25"},
        {"caf\xc3\xa9", true, "caf%C3%A9"}, /* UTF-8 byte by byte, upper-case hex */
        {"\x01\x7f\xff", false, "%01%7F%FF"},
        {"x/y z/\xe2\x82\xac", true, "x/y%20z/%E2%82%AC"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_string_equal(s3_uri_encode(a, cases[i].in, cases[i].keep_slash), cases[i].out);
}

static void test_conf_check(void **state)
{
    (void)state;
    const s3_conf good = {.endpoint = "http://127.0.0.1:4569",
                          .bucket = "rv-media",
                          .region = "us-east-1",
                          .key_id = "AKID",
                          .secret = "TOPSECRETVALUE"};
    char why[256];
    assert_true(s3_conf_check(&good, why, sizeof why));
    static const struct {
        const char *endpoint, *bucket, *region, *key_id, *secret, *why;
    } bad[] = {
        {NULL, "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"127.0.0.1:4569", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"ftp://h", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://u:p@h", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://h/?x=1", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://h#f", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://h h", "rv-media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_ENDPOINT"},
        {"http://h", NULL, "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_BUCKET"},
        {"http://h", "ab", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_BUCKET"},
        {"http://h", "RV-Media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_BUCKET"},
        {"http://h", "rv_media", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_BUCKET"},
        {"http://h", "-rv", "us-east-1", "AKID", "TOPSECRETVALUE", "RV_S3_BUCKET"},
        {"http://h", "rv-media", "us:east", "AKID", "TOPSECRETVALUE", "RV_S3_REGION"},
        {"http://h", "rv-media", "", "AKID", "TOPSECRETVALUE", "RV_S3_REGION"},
        {"http://h", "rv-media", NULL, "AKID", "TOPSECRETVALUE", "RV_S3_REGION"},
        {"http://h", "rv-media", "us-east-1", NULL, "TOPSECRETVALUE", "RV_S3_ACCESS_KEY_ID"},
        {"http://h", "rv-media", "us-east-1", "AKID", NULL, "RV_S3_SECRET_ACCESS_KEY"},
        {"http://h", "rv-media", "us-east-1", "AKID", "", "RV_S3_SECRET_ACCESS_KEY"},
        {"http://h", "rv-media", "us-east-1", "AK:ID", "TOPSECRETVALUE", "access key"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        s3_conf c = {bad[i].endpoint, bad[i].bucket, bad[i].region, bad[i].key_id, bad[i].secret};
        why[0] = '\0';
        assert_false(s3_conf_check(&c, why, sizeof why));
        assert_non_null(strstr(why, bad[i].why));
        assert_null(strstr(why, "TOPSECRET")); /* never the secret */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aws_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presign_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uri_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf_check, setup, teardown),
    };
    return cmocka_run_group_tests_name("s3", tests, NULL, NULL);
}
