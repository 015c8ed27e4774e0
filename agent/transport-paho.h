/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "transport.h"

/* The Paho MQTTAsync transport. Returns 0 or -ENOMEM/-errno. Free with ob_transport_free(). */
int ob_transport_paho_new(ObTransport *ret);
void ob_transport_free(ObTransport *t);

/* Wait up to timeout_ms for the next event (poll on the event fd). 0, -ETIMEDOUT, -errno. */
int ob_transport_wait_event(ObTransport *t, int timeout_ms, ObTransportEvent *ret);
