/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proves the leak check of Tests/c/run.sh can fail: this client drops one decoded output without
 * nemo_relay_free, and LeakSanitizer (ASan with detect_leaks=1) must report it, with the library
 * frame that allocated it. Every other ASan run of the C tests relies on that check to pass.
 */
#include "nemo_relay.h"

#include <string.h>

int main(void) {
    nemo_relay_codec_t *codec = NULL;
    if (nemo_relay_codec_builtin(&codec, "openai_chat") != NEMO_RELAY_OK) return 2;
    static const char request[] =
        "{\"headers\":{},\"content\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";
    char *out = NULL;
    size_t len = 0;
    if (nemo_relay_codec_decode(&out, &len, codec, request, strlen(request)) != NEMO_RELAY_OK) return 2;
    out = NULL; /* the leak */
    nemo_relay_codec_free(codec);
    return 0;
}
