/* SPDX-License-Identifier: Apache-2.0 */
/* Exposes include/nemo_relay.h to the Swift export layer; defines nothing. */
#include "nemo_relay.h"
