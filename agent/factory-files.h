/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The factory directory <state_dir>/factory/: what `agentctl factory` leaves for the daemon's
 * first boot (static/jitp/jitr). Stand-in for lib/factory-paths.h of the daemon side (same
 * names and modes); whichever lands second includes the other's header instead of this one.
 */
#pragma once

#ifndef OB_FACTORY_DIR
#define OB_FACTORY_DIR       "factory" /* below paths.state_dir */
#define OB_FACTORY_DIR_MODE  0750
#define OB_FACTORY_KEY       "device.key" /* TSS2 PRIVATE KEY PEM (tpm) or PEM key (software) */
#define OB_FACTORY_CERT      "device.crt" /* PEM, the device certificate only */
#define OB_FACTORY_CHAIN     "chain.pem"  /* optional: the issuing CA chain, PEM */
#define OB_FACTORY_CERT_MODE 0644
#define OB_FACTORY_KEY_MODE  0600
#endif
