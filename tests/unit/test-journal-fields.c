/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journal fields of the engine's lines (agent/journal-fields): the status of the moment,
 * field by field, and nothing for what the status does not have.
 */
#include "config.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "journal-fields.h"

static size_t count(const char *const *l)
{
        size_t n = 0;

        while (l[n])
                n++;
        return n;
}

static bool has(const char *const *l, const char *field)
{
        for (size_t i = 0; l[i]; i++)
                if (strcmp(l[i], field) == 0)
                        return true;
        return false;
}

static void test_failure(void **state)
{
        json_object *st = json_tokener_parse(
                "{\"state\":\"waiting-to-retry\",\"stage\":\"key-ready\",\"method\":\"fleet-claim\","
                "\"thing_name\":null,\"certificate_id\":null,\"next_retry\":\"2026-12-05T15:00:03Z\","
                "\"last_error\":{\"code\":\"connect-failed\",\"class\":\"network\",\"text\":\"x\"}}");
        ObJournalFields f;
        const char *const *l;

        (void)state;
        assert_non_null(st);
        l = ob_journal_fields(st, &f);
        assert_int_equal(count(l), 6);
        assert_true(has(l, "OB_STATE=waiting-to-retry"));
        assert_true(has(l, "OB_STAGE=key-ready"));
        assert_true(has(l, "OB_METHOD=fleet-claim"));
        assert_true(has(l, "OB_ERROR_CODE=connect-failed"));
        assert_true(has(l, "OB_ERROR_CLASS=network"));
        assert_true(has(l, "OB_NEXT_RETRY=2026-12-05T15:00:03Z"));
        json_object_put(st);
}

static void test_onboarded(void **state)
{
        json_object *st = json_tokener_parse(
                "{\"state\":\"onboarded\",\"stage\":\"onboarded\",\"method\":\"jitp\","
                "\"thing_name\":\"gw-1\",\"certificate_id\":\"2dcbd80050eb\",\"last_error\":null}");
        ObJournalFields f;
        const char *const *l;

        (void)state;
        l = ob_journal_fields(st, &f);
        assert_int_equal(count(l), 5);
        assert_true(has(l, "OB_THING=gw-1"));
        assert_true(has(l, "OB_CERT_ID=2dcbd80050eb"));
        assert_false(has(l, "OB_ERROR_CODE="));
        json_object_put(st);
        /* no status at all: no fields, a valid empty list */
        assert_int_equal(count(ob_journal_fields(NULL, &f)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_failure),
                cmocka_unit_test(test_onboarded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
