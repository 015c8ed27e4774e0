/* SPDX-License-Identifier: Apache-2.0 */
/* agentctl's --json errors (agent/cli.c): the first error said is the one reported, with its
 * code (or the exit status's), and only when the command failed without JSON of its own. Each
 * case runs in a child process (the record is per process, as agentctl runs once), its stdout
 * read back through a pipe. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

typedef int (*Case)(void);

/* Run c in a child with --json on (or off); its exit status in *ret_exit, its stdout returned
 * (malloc'ed). */
static char *run(Case c, bool json, int *ret_exit)
{
        static char buf[8192];
        int p[2], status;
        size_t n = 0;
        ssize_t k;
        pid_t pid;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                dup2(p[1], STDOUT_FILENO);
                if (!freopen("/dev/null", "w", stderr))
                        _exit(99);
                ob_cli_set_json(json);
                ob_log_set_sink(ob_cli_log_sink, NULL);
                int x = ob_cli_finish(c());
                fflush(stdout);
                _exit(x);
        }
        close(p[1]);
        while ((k = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t)k;
        close(p[0]);
        buf[n] = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        *ret_exit = WEXITSTATUS(status);
        return strdup(buf);
}

/* The error document of out: code, message, source, exit; fails unless out is exactly one. */
static void assert_error(const char *out, const char *code, const char *message, const char *source,
                         int exit_code)
{
        json_tokener *t = json_tokener_new();
        json_object *o = json_tokener_parse_ex(t, out, (int)strlen(out)), *e, *v;

        assert_non_null(o);
        /* nothing but white space after the one document */
        for (const char *p = out + json_tokener_get_parse_end(t); *p; p++)
                assert_true(*p == '\n' || *p == ' ');
        json_tokener_free(t);
        assert_true(json_object_object_get_ex(o, "ok", &v));
        assert_false(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "error", &e));
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), code);
        assert_true(json_object_object_get_ex(e, "message", &v));
        assert_string_equal(json_object_get_string(v), message);
        assert_true(json_object_object_get_ex(e, "source", &v));
        assert_string_equal(json_object_get_string(v), source);
        assert_true(json_object_object_get_ex(e, "exit", &v));
        assert_int_equal(json_object_get_int(v), exit_code);
        json_object_put(o);
}

static int first_wins(void)
{
        ob_cli_fail(OB_CLI_E_IO, "cannot read %s", "/x");
        ob_cli_complain("later");
        (void)ob_cli_usage_error("later still");
        return 1;
}

static void test_first_error_wins(void **state)
{
        int x;
        char *out = run(first_wins, true, &x);

        (void)state;
        assert_int_equal(x, 1);
        assert_error(out, "io", "cannot read /x", "agentctl", 1);
        free(out);
}

static int complain_config(void)
{
        ob_cli_complain("paths.state_dir is too long");
        return OB_CLI_EXIT_CONFIG;
}
static int complain_noperm(void)
{
        ob_cli_complain("no");
        return OB_CLI_EXIT_NOPERM;
}
static int complain_failure(void)
{
        ob_cli_complain("no");
        return 1;
}
static int usage(void)
{
        return ob_cli_usage_error("unknown command '%s'", "frob");
}

static void test_code_from_exit_status(void **state)
{
        int x;
        char *out;

        (void)state;
        out = run(complain_config, true, &x);
        assert_error(out, "config-invalid", "paths.state_dir is too long", "agentctl", 78);
        free(out);
        out = run(complain_noperm, true, &x);
        assert_error(out, "permission-denied", "no", "agentctl", 77);
        free(out);
        out = run(complain_failure, true, &x);
        assert_error(out, "failed", "no", "agentctl", 1);
        free(out);
        out = run(usage, true, &x);
        assert_int_equal(x, 64);
        assert_error(out, "usage", "unknown command 'frob'", "agentctl", 64);
        free(out);
}

static int refused_perm(void)
{
        return ob_cli_daemon_refused("rotate", "permission-denied", "rotate needs root");
}
static int refused_other(void)
{
        return ob_cli_daemon_refused("rotate", "not-onboarded", "not onboarded yet");
}

static void test_daemon_refusal(void **state)
{
        int x;
        char *out;

        (void)state;
        out = run(refused_perm, true, &x);
        assert_int_equal(x, 77);
        assert_error(out, "permission-denied", "rotate needs root", "daemon", 77);
        free(out);
        out = run(refused_other, true, &x);
        assert_int_equal(x, 1);
        assert_error(out, "not-onboarded", "not onboarded yet", "daemon", 1);
        free(out);
}

static int logs(void)
{
        ob_log_warning("only a warning");
        ob_log_error("Failed to frobnicate");
        ob_cli_complain("later");
        return 1;
}
static int silent(void)
{
        return 1;
}

static void test_log_sink_and_fallback(void **state)
{
        int x;
        char *out;

        (void)state;
        out = run(logs, true, &x);
        assert_error(out, "failed", "Failed to frobnicate", "agentctl", 1);
        free(out);
        out = run(silent, true, &x);
        assert_error(out, "failed", "failed (exit status 1)", "agentctl", 1);
        free(out);
}

static int printed_then_fails(void)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "worst", json_object_new_string("fail"));
        ob_cli_print_json(o);
        json_object_put(o);
        ob_cli_complain("a check failed");
        return 1;
}
static int complains_but_succeeds(void)
{
        ob_cli_complain("a warning said as a complaint");
        return 0;
}

static void test_no_second_document(void **state)
{
        int x;
        char *out;

        (void)state;
        /* the command's own JSON is the one document */
        out = run(printed_then_fails, true, &x);
        assert_int_equal(x, 1);
        assert_null(strstr(out, "\"ok\""));
        assert_non_null(strstr(out, "\"worst\""));
        free(out);
        /* success: nothing added */
        out = run(complains_but_succeeds, true, &x);
        assert_int_equal(x, 0);
        assert_string_equal(out, "");
        free(out);
        /* without --json: nothing on stdout */
        out = run(first_wins, false, &x);
        assert_int_equal(x, 1);
        assert_string_equal(out, "");
        free(out);
}

/* ---- a command's options (ob_cli_parse_options, ob_cli_next_option) */

static const char *opt_cert;
static bool opt_force, opt_json;

static int parse(int argc, char **argv)
{
        const ObCliOption options[] = {
                {"cert", .arg = &opt_cert},
                {"force", .flag = &opt_force},
                {"json", .flag = &opt_json},
                {},
        };

        opt_cert = NULL;
        opt_force = opt_json = false;
        return ob_cli_parse_options("factory install-cert", argc, argv, options) < 0
                       ? OB_CLI_EXIT_USAGE
                       : 0;
}

static int parse_good(void)
{
        char *argv[] = {"install-cert", "--force", "--cert", "a.pem", NULL};
        int x = parse(4, argv);

        /* parsed again from the start (optind reset): the same values */
        if (x == 0)
                x = parse(4, argv);
        return x != 0 || !opt_cert || strcmp(opt_cert, "a.pem") != 0 || !opt_force || opt_json ? 2
                                                                                               : 0;
}
static int parse_unknown(void)
{
        char *argv[] = {"install-cert", "--cert", "a.pem", "--bogus", NULL};
        return parse(4, argv);
}
static int parse_missing(void)
{
        char *argv[] = {"install-cert", "--cert", NULL};
        return parse(2, argv);
}
static int parse_operand(void)
{
        char *argv[] = {"install-cert", "--force", "extra", "--json", NULL};
        return parse(4, argv);
}

static void test_options(void **state)
{
        int x;
        char *out;

        (void)state;
        out = run(parse_good, true, &x);
        assert_int_equal(x, 0);
        assert_string_equal(out, "");
        free(out);
        out = run(parse_unknown, true, &x);
        assert_int_equal(x, OB_CLI_EXIT_USAGE);
        assert_error(out, "usage", "factory install-cert: unknown option '--bogus'", "agentctl",
                     OB_CLI_EXIT_USAGE);
        free(out);
        out = run(parse_missing, true, &x);
        assert_int_equal(x, OB_CLI_EXIT_USAGE);
        assert_error(out, "usage", "factory install-cert: option '--cert' needs an argument",
                     "agentctl", OB_CLI_EXIT_USAGE);
        free(out);
        /* options stop at the first operand ("+"): it is the error, not the --json after it */
        out = run(parse_operand, true, &x);
        assert_int_equal(x, OB_CLI_EXIT_USAGE);
        assert_error(out, "usage", "factory install-cert: unexpected argument 'extra'", "agentctl",
                     OB_CLI_EXIT_USAGE);
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_error_wins),
                cmocka_unit_test(test_code_from_exit_status),
                cmocka_unit_test(test_daemon_refusal),
                cmocka_unit_test(test_log_sink_and_fallback),
                cmocka_unit_test(test_no_second_document),
                cmocka_unit_test(test_options),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
