/* http: the rules of untrusted downloads (addresses, origins) and what is worth a
 * retry. The transfers themselves are covered over loopback by the integration
 * tests (test_edges_downloads.py). */
#include "unit.h"

#include "http.h"

static void test_addr_public(void **state)
{
    (void)state;
    static const char *const private[] = {"127.0.0.1",
                                          "127.255.255.254",
                                          "10.1.2.3",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "192.0.2.1",
                                          "198.18.0.1",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "64:ff9b::a9fe:a9fe",
                                          "2002:7f00:1::1",
                                          "2001:db8::1",
                                          "100::1",
                                          "not an address",
                                          "",
                                          "1.2.3",
                                          "fec0::1"};
    for (size_t i = 0; i < N_ELEMS(private); i++)
        if (http_addr_public(private[i]))
            fail_msg("%s taken as public", private[i]);
    assert_false(http_addr_public(NULL));
    static const char *const public[] = {"1.1.1.1",        "8.8.8.8",           "172.32.0.1",
                                         "172.15.255.255", "100.128.0.1",       "2606:4700::1111",
                                         "::ffff:8.8.8.8", "2002:0808:0808::1", "54.230.1.1"};
    for (size_t i = 0; i < N_ELEMS(public); i++)
        if (!http_addr_public(public[i]))
            fail_msg("%s taken as non-public", public[i]);
}

static void test_same_origin(void **state)
{
    (void)state;
    assert_true(http_same_origin("http://127.0.0.1:18220/files/a.wav", "http://127.0.0.1:18220"));
    assert_true(http_same_origin("HTTPS://API.Replicate.com/v1/x", "https://api.replicate.com"));
    assert_true(http_same_origin("https://api.replicate.com:443/x", "https://api.replicate.com"));
    assert_false(http_same_origin("http://127.0.0.1:18221/x", "http://127.0.0.1:18220"));
    assert_false(http_same_origin("https://127.0.0.1:18220/x", "http://127.0.0.1:18220"));
    assert_false(http_same_origin("http://127.0.0.1.evil.test:18220/", "http://127.0.0.1:18220"));
    assert_false(
        http_same_origin("http://user@evil.test/@127.0.0.1:18220", "http://127.0.0.1:18220"));
    assert_false(http_same_origin("not a url", "http://127.0.0.1:18220"));
    assert_false(http_same_origin(NULL, "http://127.0.0.1:18220"));
}

static void test_transient(void **state)
{
    (void)state;
    http_call c = {.status = 0};
    assert_true(http_transient(&c));
    c.too_large = true;
    assert_false(http_transient(&c));
    c.too_large = false;
    c.refused = true;
    assert_false(http_transient(&c));
    c.refused = false;
    c.status = 503;
    assert_true(http_transient(&c));
    c.status = 404;
    assert_false(http_transient(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_public),
        cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_transient),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
