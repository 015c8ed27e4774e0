/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event queue of the unit tests' fake clouds (tests/unit/onboard-harness.c,
 * test-onboard-flows.c): what a transport would deliver, in order, to the machine's
 * ob_transport next_event(). Events own copies of their topic and payload.
 */
#pragma once

#include <stddef.h>

#include "transport.h"

#define FAKE_EVENTS_MAX 64

typedef struct FakeEvents {
        ObTransportEvent q[FAKE_EVENTS_MAX];
        size_t n;
} FakeEvents;

/* Append an event of type t (topic, payload: NULL or copied); returns it for more fields. */
ObTransportEvent *fake_events_push(FakeEvents *e, ObTransportEventType t, const char *topic,
                                   const char *payload);

/* Take the oldest event (the caller clears it): 0, or -EAGAIN when there is none. */
int fake_events_next(FakeEvents *e, ObTransportEvent *ret);

/* Drop every queued event (a real transport forgets what was queued for a closed connection). */
void fake_events_clear(FakeEvents *e);

/* Transport ops for a fake whose impl struct starts with its FakeEvents: no fd to poll, the
 * queue's oldest event next, nothing to free. */
int fake_events_op_event_fd(void *impl);
int fake_events_op_next_event(void *impl, ObTransportEvent *ret);
void fake_events_op_free(void *impl);
