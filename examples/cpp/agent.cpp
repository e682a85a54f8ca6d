// SPDX-License-Identifier: Apache-2.0
// The C API from C++: an agent scope around a managed tool call, a subscriber printing every event as
// one JSON line, and RAII owners for the runtime and the scope. Built against an installed prefix with
// CMake (find_package(NemoRelay), target NemoRelay::nemorelay); see CMakeLists.txt.
#include <nemo_relay.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

namespace {

void check(nemo_relay_status_t rc, const char *what) {
    if (rc != NEMO_RELAY_OK) {
        std::fprintf(stderr, "%s failed: %s: %s\n", what, nemo_relay_status_str(rc), nemo_relay_last_error_message());
        std::exit(1);
    }
}

struct RuntimeFree {
    void operator()(nemo_relay_runtime_t *rt) const { nemo_relay_runtime_free(rt); }
};
struct ScopeFree {
    void operator()(nemo_relay_scope_t *s) const { nemo_relay_scope_free(s); }
};

std::mutex print_lock;

// Runs on the subscriber's delivery thread.
void print_event(const char *json, size_t len, void *) {
    std::lock_guard<std::mutex> guard(print_lock);
    std::fwrite(json, 1, len, stdout);
    std::fputc('\n', stdout);
}

nemo_relay_status_t add_tool(nemo_relay_token_t *token, const char *, size_t, void *) {
    static const std::string result = R"({"result":{"sum":5}})";
    return nemo_relay_complete(token, NEMO_RELAY_OK, result.data(), result.size());
}

void on_done(nemo_relay_status_t status, const char *json, size_t len, void *user_data) {
    auto *out = static_cast<std::string *>(user_data);
    *out = status == NEMO_RELAY_OK ? std::string(json, len) : std::string("error");
}

}  // namespace

int main() {
    if (nemo_relay_version_number() != NEMO_RELAY_VERSION_NUMBER) {
        std::fprintf(stderr, "header %s, library %s\n", NEMO_RELAY_VERSION_STRING, nemo_relay_version());
        return 1;
    }
    nemo_relay_runtime_t *raw = nullptr;
    check(nemo_relay_runtime_new(&raw, nullptr), "nemo_relay_runtime_new");
    std::unique_ptr<nemo_relay_runtime_t, RuntimeFree> rt(raw);
    check(nemo_relay_subscriber_register(rt.get(), nullptr, "stdout", print_event, nullptr, nullptr), "register");

    nemo_relay_scope_options_t so;
    check(nemo_relay_scope_options_init(&so, NEMO_RELAY_SCOPE_OPTIONS_VERSION), "scope_options_init");
    nemo_relay_scope_t *scope_raw = nullptr;
    check(nemo_relay_scope_begin(&scope_raw, rt.get(), nullptr, "calculator-agent", NEMO_RELAY_SCOPE_AGENT, &so),
          "scope_begin");
    std::unique_ptr<nemo_relay_scope_t, ScopeFree> scope(scope_raw);

    nemo_relay_tool_options_t to;
    check(nemo_relay_tool_options_init(&to, NEMO_RELAY_TOOL_OPTIONS_VERSION), "tool_options_init");
    to.tool_call_id = "call_add";
    std::string result;
    nemo_relay_callback_t tool = {add_tool, nullptr, nullptr};
    nemo_relay_done_t done = {on_done, &result, nullptr};
    static const std::string args = R"({"a":2,"b":3})";
    check(nemo_relay_tool_execute(nullptr, rt.get(), nullptr, "add", args.data(), args.size(), &to, &tool, &done),
          "tool_execute");

    check(nemo_relay_scope_end(rt.get(), nullptr, scope.get(), &so), "scope_end");
    check(nemo_relay_flush(rt.get(), -1), "flush");
    std::fprintf(stderr, "libnemorelay %s; tool result: %s\n", nemo_relay_version(), result.c_str());
    return result.find("\"sum\":5") == std::string::npos ? 1 : 0;
}
