/* SPDX-License-Identifier: Apache-2.0 */
/* The fake clouds' event queue: see fake-events.h. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-events.h"

ObTransportEvent *fake_events_push(FakeEvents *e, ObTransportEventType t, const char *topic,
                                   const char *payload)
{
        ObTransportEvent *ev;

        assert_true(e->n < FAKE_EVENTS_MAX);
        ev = &e->q[e->n++];
        *ev = (ObTransportEvent){.type = t};
        if (topic)
                ev->topic = strdup(topic);
        if (payload) {
                ev->payload = (uint8_t *)strdup(payload);
                ev->payload_len = strlen(payload);
        }
        return ev;
}

int fake_events_next(FakeEvents *e, ObTransportEvent *ret)
{
        if (e->n == 0)
                return -EAGAIN;
        *ret = e->q[0];
        memmove(e->q, e->q + 1, (e->n - 1) * sizeof(e->q[0]));
        e->n--;
        return 0;
}

void fake_events_clear(FakeEvents *e)
{
        for (size_t i = 0; i < e->n; i++)
                ob_transport_event_clear(&e->q[i]);
        e->n = 0;
}

int fake_events_op_event_fd(void *impl)
{
        (void)impl;
        return -1;
}

int fake_events_op_next_event(void *impl, ObTransportEvent *ret)
{
        return fake_events_next((FakeEvents *)impl, ret);
}

void fake_events_op_free(void *impl)
{
        (void)impl;
}
