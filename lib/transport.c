/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "transport.h"

void ob_transport_event_clear(ObTransportEvent *e)
{
        free(e->topic);
        free(e->payload);
        memset(e, 0, sizeof(*e));
}
