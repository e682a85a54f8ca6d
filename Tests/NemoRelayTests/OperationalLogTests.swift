// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

/// Operational logging's configuration and records (docs/logging.md); the texts are the reference's
/// (nemo-relay 0.10.4), observed by running it with the same environment.
@Suite struct OperationalLogTests {
    static func env(_ values: [String: String]) -> (String) -> String? { { values[$0] } }
    static func noFile(_ path: String) throws(RelayError) -> String {
        throw .invalidArgument("failed to read logging configuration \(path): No such file or directory (os error 2)")
    }

    static func refusal(_ values: [String: String], files: [String: String] = [:]) -> String? {
        do throws(RelayError) {
            _ = try OperationalLog.config(environment: env(values)) { path throws(RelayError) in
                guard let text = files[path] else { throw .invalidArgument("no \(path)") }
                return text
            }
            return nil
        } catch {
            return error.displayText
        }
    }

    static func tomlRefusal(_ text: String) -> String? {
        do throws(RelayError) {
            _ = try OperationalLog.config(toml: text)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func noVariableMeansTheBuiltInConfiguration() throws {
        #expect(try OperationalLog.config(environment: Self.env([:]), read: Self.noFile) == nil)
        let c = OperationalLog.Config()
        #expect(c.level == .error && c.stderrEnabled && c.stderrFormat == .human && c.sinks.isEmpty)
        #expect(c.flushIntervalMillis == 1000)
    }

    @Test func environmentValues() throws {
        let c = try #require(
            try OperationalLog.config(
                environment: Self.env([
                    "NEMO_RELAY_LOG": " Warning ", "NEMO_RELAY_LOG_STDERR": "FALSE",
                    "NEMO_RELAY_LOG_STDERR_FORMAT": "json",
                ]), read: Self.noFile))
        #expect(c.level == .warn && !c.stderrEnabled && c.stderrFormat == .jsonl)
        #expect(
            try OperationalLog.config(environment: Self.env(["NEMO_RELAY_LOG_STDERR": "1"]), read: Self.noFile)?.level
                == .error)
    }

    @Test func invalidEnvironmentValuesAreRefusedWithTheReferenceTexts() {
        let cases: [([String: String], String)] = [
            (["NEMO_RELAY_LOG": ""], "invalid argument: NEMO_RELAY_LOG must not be empty when set"),
            (["NEMO_RELAY_LOG_STDERR": ""], "invalid argument: NEMO_RELAY_LOG_STDERR must not be empty when set"),
            (
                ["NEMO_RELAY_LOG": "off"],
                "invalid argument: invalid logging level 'off'; expected error, warn, info, debug, or trace"
            ),
            (
                ["NEMO_RELAY_LOG": " "],
                "invalid argument: invalid logging level ''; expected error, warn, info, debug, or trace"
            ),
            (
                ["NEMO_RELAY_LOG_STDERR": "YES"],
                "invalid argument: invalid NEMO_RELAY_LOG_STDERR value 'yes'; expected true or false"
            ),
            (
                ["NEMO_RELAY_LOG_STDERR_FORMAT": "XML"],
                "invalid argument: invalid logging format 'xml'; expected human or jsonl"
            ),
            (
                ["NEMO_RELAY_LOG_CONFIG_PATH": "/a.toml", "NEMO_RELAY_LOG": "info"],
                "invalid argument: NEMO_RELAY_LOG_CONFIG_PATH cannot be combined with NEMO_RELAY_LOG or "
                    + "NEMO_RELAY_LOG_STDERR or NEMO_RELAY_LOG_STDERR_FORMAT"
            ),
            (
                ["NEMO_RELAY_LOG_CONFIG_PATH": "a.toml"],
                "invalid argument: logging configuration path must be absolute: a.toml"
            ),
            (
                ["NEMO_RELAY_LOG_CONFIG_PATH": "/a.txt"],
                "invalid argument: logging configuration path must identify a .toml file: /a.txt"
            ),
            (
                ["NEMO_RELAY_LOG_CONFIG_PATH": "/e.toml"],
                "invalid argument: invalid logging configuration in /e.toml: invalid argument: logging configuration "
                    + "requires a [logging] section"
            ),
        ]
        for (values, text) in cases {
            #expect(Self.refusal(values, files: ["/e.toml": "[other]\nx = 1\n"]) == text, "\(values)")
        }
    }

    @Test func aConfigurationFile() throws {
        let text = """
            # operational logging
            [logging]  # the table
            level = "debug"
            stderr_enabled = false
            stderr_format = 'jsonl'
            flush_interval_millis = 1_000

            [[logging.sinks]]
            path = "/var/log/relay.jsonl"

            [[logging.sinks]]
            path = "logs/relay.log"
            level = "WARN"
            format = "human"
            queue_capacity = 8192
            max_file_size_bytes = 1048576
            retained_files = 3

            [other]
            anything = "ignored"
            """
        let c = try #require(
            try OperationalLog.config(
                environment: Self.env(["NEMO_RELAY_LOG_CONFIG_PATH": "/etc/relay.toml"]),
                read: { _ throws(RelayError) in text }))
        #expect(c.level == .debug && !c.stderrEnabled && c.stderrFormat == .jsonl && c.flushIntervalMillis == 1000)
        #expect(c.sinks.count == 2)
        #expect(c.sinks[0].path == "/var/log/relay.jsonl" && c.sinks[0].level == .info && c.sinks[0].format == .jsonl)
        #expect(c.sinks[0].queueCapacity == 1024 && c.sinks[0].maxFileSizeBytes == nil)
        #expect(c.sinks[1].level == .warn && c.sinks[1].format == .human && c.sinks[1].queueCapacity == 8192)
        #expect(c.sinks[1].maxFileSizeBytes == 1_048_576 && c.sinks[1].retainedFiles == 3)
    }

    @Test func fileErrorsCarryTheReferenceTexts() {
        #expect(
            Self.tomlRefusal("[logging]\nlevel = \"info\"\ncolour = true\n")
                == "invalid logging TOML: TOML parse error at line 3, column 1\n  |\n3 | colour = true\n  | ^^^^^^\n"
                + "unknown field `colour`, expected one of `level`, `stderr_enabled`, `stderr_format`, "
                + "`flush_interval_millis`, `sinks`\n")
        #expect(
            Self.tomlRefusal("[logging]\nflush_interval_millis = \"x\"\n")
                == "invalid logging TOML: TOML parse error at line 2, column 25\n  |\n2 | flush_interval_millis = \"x\"\n"
                + "  |                         ^^^\ninvalid type: string \"x\", expected u64\n")
        #expect(
            Self.tomlRefusal("[logging]\n[[logging.sinks]]\npath = \"/q\"\nqueue_capacity = -1\n")
                == "invalid logging TOML: TOML parse error at line 4, column 18\n  |\n4 | queue_capacity = -1\n"
                + "  |                  ^^\ninvalid value: integer `-1`, expected usize\n")
        #expect(Self.tomlRefusal("[logging]\nlevel = \"a\"\nlevel = \"b\"\n")?.hasSuffix("duplicate key\n") == true)
        #expect(Self.tomlRefusal("[logging\n")?.hasSuffix("unclosed table, expected `]`\n") == true)
        #expect(Self.tomlRefusal("[logging]\nlevel = 1.5\n")?.contains("reads strings, integers and booleans") == true)
        let semantic: [(String, String)] = [
            ("", "logging configuration requires a [logging] section"),
            ("[logging]\n[[logging.sinks]]\nlevel = \"info\"\n", "logging sink requires path"),
            ("[logging]\n[[logging.sinks]]\npath = \"\"\n", "logging sink path must not be empty"),
            (
                "[logging]\n[[logging.sinks]]\npath = \"/q\"\nqueue_capacity = 0\n",
                "logging sink queue_capacity must be greater than 0"
            ),
            (
                "[logging]\n[[logging.sinks]]\npath = \"/q\"\nqueue_capacity = 100000\n",
                "logging sink queue_capacity 100000 exceeds maximum 8192 entries per file sink"
            ),
            (
                "[logging]\n[[logging.sinks]]\npath = \"/q\"\nmax_file_size_bytes = 100\n",
                "logging sink max_file_size_bytes and retained_files must be configured together"
            ),
            (
                "[logging]\n[[logging.sinks]]\npath = \"/q\"\nmax_file_size_bytes = 0\nretained_files = 1\n",
                "logging sink max_file_size_bytes must be greater than 0"
            ),
            (
                "[logging]\n[[logging.sinks]]\npath = \"/q\"\nmax_file_size_bytes = 9\nretained_files = 0\n",
                "logging sink retained_files must be greater than 0"
            ),
            (
                "[logging]\nlevel = \"loud\"\n",
                "invalid logging level 'loud'; expected error, warn, info, debug, or trace"
            ),
        ]
        for (text, message) in semantic {
            #expect(Self.tomlRefusal(text) == message, "\(text)")
        }
    }

    @Test func recordsRenderAsTheReferenceWritesThem() {
        let t: Nanoseconds = 1_796_000_000_123_456_789
        let fields: JSONObject = ["z": 1, "a": ["k": "v"], "n": nil, "f": 2.0, "s": "v w", "b": true]
        let human = OperationalLog.render(
            .human, rootRelayID: "01a24e9d-744e-7000-82a4-89c0059367ec", time: t, level: .warn,
            target: "nemo_relay.python",
            event: "", message: "hello", fields: fields)
        #expect(
            String(decoding: human, as: UTF8.self)
                == "2026-11-30T00:53:20.123Z WARN root=01a24e9d target=nemo_relay.python a={\"k\":\"v\"} b=true f=2 n=None "
                + "s=v w z=1 hello\n")
        let jsonl = OperationalLog.render(
            .jsonl, rootRelayID: "r-1", time: t, level: .info, target: "nemo_relay.logging",
            event: "logging_initialized",
            message: "Operational logging initialized", fields: ["file_sink_count": 0])
        #expect(
            String(decoding: jsonl, as: UTF8.self)
                == "{\"event\":\"logging_initialized\",\"fields\":{\"file_sink_count\":0},\"level\":\"info\","
                + "\"message\":\"Operational logging initialized\",\"root_relay_id\":\"r-1\",\"target\":\"nemo_relay.logging\","
                + "\"timestamp\":\"2026-11-30T00:53:20.123Z\"}\n")
        let bare = OperationalLog.render(
            .human, rootRelayID: "r", time: 0, level: .error, target: "t", event: "e", message: "", fields: [:])
        #expect(String(decoding: bare, as: UTF8.self) == "1970-01-01T00:00:00.000Z ERROR root=r target=t event=e\n")
    }

    @Test func recordLevelsAndRotatedNames() {
        #expect(OperationalLog.recordLevel("warning") == .warn)
        #expect(OperationalLog.recordLevel("INFO") == nil)
        #expect(OperationalLog.rotatedPath("/var/log/relay.jsonl", 2) == "/var/log/relay.2.jsonl")
        #expect(OperationalLog.rotatedPath("/var/log.d/relay", 1) == "/var/log.d/relay.1")
        #expect(OperationalLog.rotatedPath("/var/log/.hidden", 1) == "/var/log/.hidden.1")
    }
}
