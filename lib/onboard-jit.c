/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Just-in-time provisioning (JITP) and registration (JITR): the factory certificate's first
 * connects register it in the cloud (lib/onboard-factory.c does the importing and connecting,
 * with the CA chain), and what a refusal means while that happens. Their table rows.
 */
#include "config.h"

#include <stdint.h>

#include "onboard-factory.h"
#include "onboard-method.h"
#include "onboard-private.h"
#include "onboard.h"

/* jitp: the first refusal is the registration: retry in 1-2 s; then the refused schedule, and
 * after provisioning.jitp_max_refusals "refused, not pending". */
static void jitp_refused(ObOnboard *ob, const char *detail, int64_t now)
{
        uint32_t n = ob_onboard_factory_count_refusal(ob);
        int64_t soon = n == 1 ? OB_ONBOARD_FIRST_REFUSAL_RETRY_MS : 0;

        if (n >= ob->c->provisioning.jitp_max_refusals)
                ob_onboard_factory_refusal_fail(
                        ob, "refused-not-pending", soon, OB_ACT_WAIT_RETRY, now,
                        "refused, not pending: the certificate %.12s... was refused %u times "
                        "(%s); is its CA registered with auto-registration and a template?",
                        ob->cert_id ? ob->cert_id : "?", n, detail);
        else
                ob_onboard_factory_refusal_fail(
                        ob, "registration-pending", soon, OB_ACT_WAIT_RETRY, now,
                        "refused %u time(s), expected while JITP registers the certificate (%s)", n,
                        detail);
}

/* jitr: activation by a cloud function can take minutes: the refused schedule, status
 * waiting-for-activation, no give-up. */
static void jitr_refused(ObOnboard *ob, const char *detail, int64_t now)
{
        uint32_t n = ob_onboard_factory_count_refusal(ob);

        ob_onboard_factory_refusal_fail(ob, "waiting-for-activation",
                                        n == 1 ? OB_ONBOARD_FIRST_REFUSAL_RETRY_MS : 0,
                                        OB_ACT_WAIT_ACTIVATION, now,
                                        "refused %u time(s): waiting for a cloud function to "
                                        "activate the certificate %.12s... (%s)",
                                        n, ob->cert_id ? ob->cert_id : "?", detail);
}

const ObOnboardMethod ob_onboard_method_jitp = {
        .method = OB_METHOD_JITP,
        .factory_cert = true,
        .sends_chain = true,
        .thing_from_cn = true,
        .first_identity = "a jitp device is registered by its first connect with its factory "
                          "certificate (the CA's template)",
        .resume = ob_onboard_factory_resume,
        .refused = jitp_refused,
};

const ObOnboardMethod ob_onboard_method_jitr = {
        .method = OB_METHOD_JITR,
        .factory_cert = true,
        .sends_chain = true,
        .first_identity = "a jitr device waits until its certificate is activated "
                          "(update-certificate --new-status ACTIVE)",
        .resume = ob_onboard_factory_resume,
        .refused = jitr_refused,
};
