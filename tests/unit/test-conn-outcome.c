/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection-outcome table (lib/conn-outcome): OpenSSL's alert lines, the close before
 * CONNACK told apart by time, and which causes may be a registration in progress.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn-outcome.h"

static void test_alerts(void **state)
{
        const ObTlsAlert *a;

        (void)state;
        /* lines as OpenSSL 3 prints them (ERR_print_errors_cb) */
        a = ob_conn_tls_alert("error:0A000418:SSL routines::tlsv1 alert unknown ca:"
                              "../ssl/record/rec_layer_s3.c:1605:SSL alert number 48");
        assert_non_null(a);
        assert_string_equal(a->name, "unknown ca");
        assert_int_equal(a->cls, OB_ERR_TLS);
        a = ob_conn_tls_alert("error:0A000412:SSL routines::sslv3 alert bad certificate:"
                              "ssl/record/rec_layer_s3.c:1605:SSL alert number 42");
        assert_string_equal(a->name, "bad certificate");
        assert_int_equal(a->cls, OB_ERR_REFUSED);
        a = ob_conn_tls_alert("error:0A00041B:SSL routines::tlsv1 alert decrypt error");
        assert_string_equal(a->name, "decrypt error");
        assert_int_equal(a->cls, OB_ERR_TLS);
        assert_non_null(strstr(a->means, "key does not match"));
        a = ob_conn_tls_alert("error:0A000414:SSL routines::sslv3 alert certificate revoked");
        assert_string_equal(a->name, "certificate revoked");
        assert_int_equal(a->cls, OB_ERR_REFUSED);
        a = ob_conn_tls_alert("error:0A00045C:SSL routines::tlsv13 alert certificate required");
        assert_string_equal(a->name, "certificate required");
        /* an alert not in the table: still an alert, a TLS problem */
        a = ob_conn_tls_alert("error:0A000000:SSL routines::tlsv1 alert no renegotiation");
        assert_non_null(a);
        assert_int_equal(a->cls, OB_ERR_TLS);
        /* no alert at all */
        assert_null(ob_conn_tls_alert("error:0A000086:SSL routines::certificate verify failed"));
        assert_null(ob_conn_tls_alert("error:0A00010B:SSL routines::wrong version number"));
        assert_null(ob_conn_tls_alert(""));
        assert_null(ob_conn_tls_alert(NULL));
}

static void test_close_by_time(void **state)
{
        (void)state;
        /* closed at once, long after any previous CONNECT: refused (AWS's way) */
        assert_int_equal(ob_conn_classify_close(300, 30000, 60000), OB_CONN_CLOSED);
        assert_int_equal(ob_conn_classify_close(300, 30000, -1), OB_CONN_CLOSED);
        /* within a second of the previous CONNECT of this client id: throttled */
        assert_int_equal(ob_conn_classify_close(300, 30000, 999), OB_CONN_THROTTLED);
        assert_int_equal(ob_conn_classify_close(300, 30000, 0), OB_CONN_THROTTLED);
        assert_int_equal(ob_conn_classify_close(300, 30000, 1000), OB_CONN_CLOSED);
        /* the whole timeout passed: nobody answered, that is no refusal */
        assert_int_equal(ob_conn_classify_close(30000, 30000, 999), OB_CONN_NO_CONNACK);
        assert_int_equal(ob_conn_classify_close(29800, 30000, -1), OB_CONN_NO_CONNACK);
        assert_int_equal(ob_conn_classify_close(29000, 30000, -1), OB_CONN_CLOSED);
}

static void test_causes(void **state)
{
        (void)state;
        for (int c = 0; c < _OB_CONN_CAUSE_MAX; c++)
                assert_non_null(ob_conn_cause_to_string((ObConnCause)c));
        assert_null(ob_conn_cause_to_string(_OB_CONN_CAUSE_MAX));
        assert_int_equal(ob_conn_cause_class(OB_CONN_THROTTLED), OB_ERR_THROTTLED);
        assert_int_equal(ob_conn_cause_class(OB_CONN_NO_CONNACK), OB_ERR_TIMEOUT);
        assert_int_equal(ob_conn_cause_class(OB_CONN_CLOSED), OB_ERR_REFUSED);
        assert_true(ob_conn_cause_may_be_pending(OB_CONN_CLOSED));
        assert_true(ob_conn_cause_may_be_pending(OB_CONN_CONNACK_REFUSED));
        assert_false(ob_conn_cause_may_be_pending(OB_CONN_TLS_ALERT));
        assert_false(ob_conn_cause_may_be_pending(OB_CONN_THROTTLED));
        assert_false(ob_conn_cause_may_be_pending(OB_CONN_NO_CONNACK));
        assert_false(ob_conn_cause_may_be_pending(OB_CONN_SERVER_CERT));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alerts),
                cmocka_unit_test(test_close_by_time),
                cmocka_unit_test(test_causes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
