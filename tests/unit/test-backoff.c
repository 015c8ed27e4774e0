/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backoff.h"
#include "config-file.h"

static ObBackoffPolicy policy;

static int setup(void **state)
{
        ObConfig *c = ob_config_new();
        assert_non_null(c);
        ob_backoff_policy_from_config(c, &policy);
        /* the shipped defaults (docs/configuration.md): network 1 s .. 5 min */
        assert_int_equal(policy.cls[OB_ERR_NETWORK].base_ms, 1000);
        assert_int_equal(policy.cls[OB_ERR_NETWORK].cap_ms, 300000);
        assert_int_equal(policy.cls[OB_ERR_REJECTED].base_ms, 60000);
        assert_true(policy.cls[OB_ERR_NETWORK].factor == 2);
        assert_true(policy.cls[OB_ERR_THROTTLED].factor == 1.25); /* P5, docs/performance.md */
        ob_config_free(c);
        policy.cls[OB_ERR_NETWORK] = (ObBackoffClassPolicy){1000, 300000};
        return 0;
}

static void test_class_names(void **state)
{
        ObErrClass c;
        for (unsigned i = 0; i < _OB_ERR_CLASS_MAX; i++) {
                const char *n = ob_err_class_to_string((ObErrClass)i);
                assert_non_null(n);
                assert_int_equal(ob_err_class_from_string(n, &c), 0);
                assert_int_equal(c, i);
        }
        assert_null(ob_err_class_to_string(_OB_ERR_CLASS_MAX));
        assert_int_equal(ob_err_class_from_string("dns", &c), -EINVAL);
        assert_int_equal(ob_err_class_from_string(NULL, &c), -EINVAL);
}

static void test_window_doubles_to_cap(void **state)
{
        const ObBackoffClassPolicy *p = &policy.cls[OB_ERR_NETWORK];
        assert_int_equal(ob_backoff_window_ms(p, 0), 1000);
        assert_int_equal(ob_backoff_window_ms(p, 1), 2000);
        assert_int_equal(ob_backoff_window_ms(p, 8), 256000);
        assert_int_equal(ob_backoff_window_ms(p, 9), 300000);
        assert_int_equal(ob_backoff_window_ms(p, 62), 300000);
        assert_int_equal(ob_backoff_window_ms(p, 63), 300000);
        assert_int_equal(ob_backoff_window_ms(p, UINT32_MAX), 300000);
        ObBackoffClassPolicy huge = {UINT64_MAX / 2, UINT64_MAX};
        assert_int_equal(ob_backoff_window_ms(&huge, 5), UINT64_MAX);
        ObBackoffClassPolicy zero = {0, 1000};
        assert_int_equal(ob_backoff_window_ms(&zero, 3), 0);
        ObBackoffClassPolicy capbelow = {5000, 1000}; /* cap below base: base wins */
        assert_int_equal(ob_backoff_window_ms(&capbelow, 0), 5000);
}

/* Another growth factor: base * factor^n, cut at the cap, however many failures. */
static void test_window_grows_by_factor(void **state)
{
        ObBackoffClassPolicy t = {2000, 600000, 1.25};

        (void)state;
        assert_int_equal(ob_backoff_window_ms(&t, 0), 2000);
        assert_int_equal(ob_backoff_window_ms(&t, 1), 2500);
        assert_int_equal(ob_backoff_window_ms(&t, 2), 3125);
        assert_int_equal(ob_backoff_window_ms(&t, 10), 18626); /* 2000 * 1.25^10 = 18626.45 */
        assert_int_equal(ob_backoff_window_ms(&t, 25), 529395);
        assert_int_equal(ob_backoff_window_ms(&t, 26), 600000);
        assert_int_equal(ob_backoff_window_ms(&t, UINT32_MAX), 600000);
        ObBackoffClassPolicy slow = {100, 7 * 86400000ULL, 1.05};
        assert_int_equal(ob_backoff_window_ms(&slow, UINT32_MAX), 7 * 86400000ULL);
        ObBackoffClassPolicy huge = {UINT64_MAX / 2, UINT64_MAX, 1.5};
        assert_int_equal(ob_backoff_window_ms(&huge, 5), UINT64_MAX);
        ObBackoffClassPolicy flat = {3000, 60000, 1.0}; /* not > 1 (the config refuses it) */
        assert_int_equal(ob_backoff_window_ms(&flat, 40), 3000);
}

static void test_seeded_sequences_repeat(void **state)
{
        uint64_t s1 = 42, s2 = 42, s3 = 43;
        ObRandom r1 = {ob_random_splitmix64, &s1}, r2 = {ob_random_splitmix64, &s2},
                 r3 = {ob_random_splitmix64, &s3};
        ObBackoff a, b, c;
        ob_backoff_init(&a);
        ob_backoff_init(&b);
        ob_backoff_init(&c);
        int same = 0;
        for (int i = 0; i < 12; i++) {
                uint64_t da = ob_backoff_failure(&a, &policy, OB_ERR_NETWORK, 1000 * i, &r1);
                uint64_t db = ob_backoff_failure(&b, &policy, OB_ERR_NETWORK, 1000 * i, &r2);
                uint64_t dc = ob_backoff_failure(&c, &policy, OB_ERR_NETWORK, 1000 * i, &r3);
                assert_int_equal(da, db);
                same += da == dc;
                assert_int_equal(a.next_ms, 1000 * i + (int64_t)da);
        }
        assert_true(same < 3);
        assert_int_equal(a.attempts, 12);
        assert_int_equal(a.last_class, OB_ERR_NETWORK);
}

/* Randomised: every delay lies in [0, min(cap, base*2^n)] and the jitter really spreads. */
static void test_full_jitter_bounds(void **state)
{
        const char *env = getenv("OB_TEST_SEED");
        uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
        print_message("seed %llu (set OB_TEST_SEED to repeat)\n", (unsigned long long)seed);
        ObRandom rnd = {ob_random_splitmix64, &seed};

        for (uint32_t n = 0; n < 12; n++) {
                uint64_t window = ob_backoff_window_ms(&policy.cls[OB_ERR_NETWORK], n);
                double sum = 0;
                uint64_t lo = UINT64_MAX, hi = 0;
                const int draws = 4000;
                for (int i = 0; i < draws; i++) {
                        ObBackoff b;
                        ob_backoff_init(&b);
                        b.attempts = n;
                        uint64_t d = ob_backoff_failure(&b, &policy, OB_ERR_NETWORK, 0, &rnd);
                        if (d > window)
                                fail_msg("n=%u: delay %llu > window %llu", n, (unsigned long long)d,
                                         (unsigned long long)window);
                        sum += (double)d;
                        lo = d < lo ? d : lo;
                        hi = d > hi ? d : hi;
                }
                double mean = sum / draws;
                assert_true(mean > 0.45 * (double)window && mean < 0.55 * (double)window);
                assert_true(lo < window / 10 && hi > window - window / 10);
        }
}

static void test_reset_only_after_stable_success(void **state)
{
        uint64_t seed = 7;
        ObRandom rnd = {ob_random_splitmix64, &seed};
        ObBackoff b;
        ob_backoff_init(&b);
        for (int i = 0; i < 5; i++)
                ob_backoff_failure(&b, &policy, OB_ERR_NETWORK, 1000, &rnd);
        assert_int_equal(b.attempts, 5);

        /* connected, but dropped again within the stable period: keeps growing */
        ob_backoff_success(&b, 100000);
        ob_backoff_failure(&b, &policy, OB_ERR_NETWORK, 100000 + 5000, &rnd);
        assert_int_equal(b.attempts, 6);

        /* stable for a full period: the next failure starts from the base again */
        ob_backoff_success(&b, 200000);
        uint64_t d = ob_backoff_failure(&b, &policy, OB_ERR_NETWORK, 200000 + 60000, &rnd);
        assert_int_equal(b.attempts, 1);
        assert_true(d <= 1000);
}

static void test_connect_floor(void **state)
{
        ObBackoff b;
        ob_backoff_init(&b);
        assert_int_equal(ob_backoff_next_connect_ms(&b), 0);
        ob_backoff_connect_attempt(&b, 5000);
        b.next_ms = 5200;                                       /* the policy says 200 ms ... */
        assert_int_equal(ob_backoff_next_connect_ms(&b), 6000); /* ... the floor says 1 s */
        b.next_ms = 9000;
        assert_int_equal(ob_backoff_next_connect_ms(&b), 9000);
        /* zero-base policy still cannot go faster than 1/s */
        ObBackoffPolicy p = policy;
        p.cls[OB_ERR_REFUSED] = (ObBackoffClassPolicy){0, 0};
        uint64_t seed = 1;
        ObRandom rnd = {ob_random_splitmix64, &seed};
        ob_backoff_connect_attempt(&b, 20000);
        ob_backoff_failure(&b, &p, OB_ERR_REFUSED, 20010, &rnd);
        assert_int_equal(b.next_ms, 20010);
        assert_int_equal(ob_backoff_next_connect_ms(&b), 21000);
}

/* A restart in the middle of a failure series continues the series. */
static void test_persist_and_resume(void **state)
{
        uint64_t seed = 99;
        ObRandom rnd = {ob_random_splitmix64, &seed};
        ObBackoff b, c;
        ob_backoff_init(&b);
        for (int i = 0; i < 3; i++)
                ob_backoff_failure(&b, &policy, OB_ERR_THROTTLED, 1000 + i, &rnd);
        ob_backoff_connect_attempt(&b, 1234);
        json_object *o = ob_backoff_to_json(&b);
        assert_non_null(o);
        json_object *re = json_tokener_parse(json_object_to_json_string(o));
        assert_int_equal(ob_backoff_from_json(re, &c), 0);
        assert_memory_equal(&b, &c, sizeof(b));
        assert_int_equal(c.attempts, 3);
        assert_int_equal(c.last_class, OB_ERR_THROTTLED);
        json_object_put(o);
        json_object_put(re);
}

static void test_from_json_strict(void **state)
{
        static const char *const bad[] = {
                "[]",
                "{}",
                "{\"attempts\":1,\"class\":\"network\",\"next_ms\":1,\"last_connect_ms\":1}",
                "{\"attempts\":-1,\"class\":\"network\",\"next_ms\":1,\"last_connect_ms\":1,"
                "\"success_since_ms\":0}",
                "{\"attempts\":\"1\",\"class\":\"network\",\"next_ms\":1,\"last_connect_ms\":1,"
                "\"success_since_ms\":0}",
                "{\"attempts\":1,\"class\":\"dns\",\"next_ms\":1,\"last_connect_ms\":1,"
                "\"success_since_ms\":0}",
                "{\"attempts\":1,\"class\":\"network\",\"next_ms\":1.5,\"last_connect_ms\":1,"
                "\"success_since_ms\":0}",
                "{\"attempts\":4294967296,\"class\":\"network\",\"next_ms\":1,"
                "\"last_connect_ms\":1,\"success_since_ms\":0}",
                "{\"attempts\":1,\"class\":\"network\",\"next_ms\":1,\"last_connect_ms\":1,"
                "\"success_since_ms\":0,\"extra\":1}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ObBackoff b;
                memset(&b, 0x5a, sizeof(b));
                ObBackoff before = b;
                json_object *o = json_tokener_parse(bad[i]);
                assert_non_null(o);
                if (ob_backoff_from_json(o, &b) != -EBADMSG)
                        fail_msg("accepted bad backoff state #%zu: %s", i, bad[i]);
                assert_memory_equal(&b, &before, sizeof(b)); /* nothing half-written */
                json_object_put(o);
        }
}

/* A state file may hold any non-negative int64: the 1/s floor saturates instead of overflowing
 * (found by tests/fuzz/fuzz-backoff-json.c; seed corpus/backoff-json/last-connect-max.json). */
static void test_next_connect_saturates(void **state)
{
        const char *json = "{\"attempts\":1,\"class\":\"network\",\"next_ms\":5,"
                           "\"last_connect_ms\":9223372036854775807,\"success_since_ms\":0}";
        json_object *o = json_tokener_parse(json);
        ObBackoff b;
        assert_int_equal(ob_backoff_from_json(o, &b), 0);
        assert_true(ob_backoff_next_connect_ms(&b) == INT64_MAX);
        b.last_connect_ms = INT64_MAX - OB_BACKOFF_CONNECT_FLOOR_MS;
        assert_true(ob_backoff_next_connect_ms(&b) == INT64_MAX);
        b.last_connect_ms = INT64_MAX - OB_BACKOFF_CONNECT_FLOOR_MS - 1;
        assert_true(ob_backoff_next_connect_ms(&b) == INT64_MAX - 1);
        json_object_put(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_class_names, setup),
                cmocka_unit_test_setup(test_window_doubles_to_cap, setup),
                cmocka_unit_test(test_window_grows_by_factor),
                cmocka_unit_test_setup(test_seeded_sequences_repeat, setup),
                cmocka_unit_test_setup(test_full_jitter_bounds, setup),
                cmocka_unit_test_setup(test_reset_only_after_stable_success, setup),
                cmocka_unit_test_setup(test_connect_floor, setup),
                cmocka_unit_test_setup(test_persist_and_resume, setup),
                cmocka_unit_test_setup(test_from_json_strict, setup),
                cmocka_unit_test(test_next_connect_saturates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
