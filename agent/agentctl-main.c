/* SPDX-License-Identifier: Apache-2.0 */
/* agentctl as a program of its own: the --without-systemd build, which has no daemon. */
#include "config.h"

#include "agentctl.h"

int main(int argc, char *argv[])
{
        return ob_agentctl_main(argc, argv);
}
