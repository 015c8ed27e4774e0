/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The factory directory <state_dir>/factory/: what `agentctl factory` leaves for the daemon's
 * first boot (static/jitp/jitr). Stand-in for lib/factory-paths.h of the daemon side (same
 * names); whichever lands second includes the other's header instead of this one.
 */
#pragma once

#ifndef OB_FACTORY_DIR
#define OB_FACTORY_DIR   "factory"    /* below paths.state_dir, 0700 */
#define OB_FACTORY_KEY   "device.key" /* TSS2 PRIVATE KEY PEM (tpm) or PEM key (software), 0600 */
#define OB_FACTORY_CERT  "device.crt" /* PEM, 0644 */
#define OB_FACTORY_CHAIN "chain.pem"  /* optional: the issuing CA chain, PEM, 0644 */
#endif
