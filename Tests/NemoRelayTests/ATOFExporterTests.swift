// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct ATOFExporterTests {
    /// A fresh directory under the system temporary directory.
    static func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "atof-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func fileConfig(_ dir: String, _ name: String = "events.jsonl", mode: String = "append") throws
        -> ATOFExporterConfig
    {
        try ATOFExporterConfig(
            json: ["output_directory": .string(dir), "filename": .string(name), "mode": .string(mode)])
    }

    static func lines(_ path: String) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    @Test func linesAreByteIdenticalToWhatSubscribersReceive() throws {
        let (rt, collector) = makeRuntime()
        let dir = Self.tempDir()
        let exporter = try Exporter.atof(Self.fileConfig(dir))
        try exporter.register(on: rt, name: "atof")
        let s = ScopeStack()
        let agent = rt.pushScope("agent", type: .agent, stack: s, data: ["task": .string("é \u{0}\n")])
        for i in 0..<100 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        try rt.popScope(agent, stack: s)
        try exporter.flush(timeoutNanos: 10_000_000_000)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(Self.lines(dir + "/events.jsonl") == collector.lines)
        #expect(collector.lines.count == 102)
        let d = exporter.diagnostics
        #expect(d["events_written"] == .int(102))
        #expect(d["events_failed"] == .int(0))
        #expect(d["path"] == .string(dir + "/events.jsonl"))
        try exporter.shutdown()
    }

    @Test func appendKeepsAndOverwriteTruncates() throws {
        let dir = Self.tempDir()
        let path = dir + "/f.jsonl"
        try "old\n".write(toFile: path, atomically: true, encoding: .utf8)
        let rt = Runtime()
        let a = try Exporter.atof(Self.fileConfig(dir, "f.jsonl", mode: "append"))
        try a.register(on: rt, name: "a")
        rt.mark("one", stack: ScopeStack())
        try a.shutdown()
        #expect(Self.lines(path).first == "old")
        #expect(Self.lines(path).count == 2)
        let o = try Exporter.atof(Self.fileConfig(dir, "f.jsonl", mode: "overwrite"))
        #expect(Self.lines(path).isEmpty)
        try o.register(on: rt, name: "o")
        rt.mark("two", stack: ScopeStack())
        try o.shutdown()
        #expect(Self.lines(path).count == 1)
        #expect(Self.lines(path)[0].contains("\"name\":\"two\""))
    }

    @Test func createsMissingDirectoriesAndUsesTheDefaultName() throws {
        let dir = Self.tempDir() + "/a/b/c"
        let e = try Exporter.atof(ATOFExporterConfig(json: ["output_directory": .string(dir)]))
        let name = try #require(e.path).split(separator: "/").last.map(String.init) ?? ""
        #expect(name.hasPrefix("nemo-relay-events-") && name.hasSuffix(".jsonl"))
        #expect(FileManager.default.fileExists(atPath: dir + "/" + name))
        // UTC date and time: nemo-relay-events-YYYY-MM-DD-HH.MM.SS.jsonl
        #expect(
            ATOFExporterConfig.defaultFilename(now: 1_772_368_496_123_456_000)
                == "nemo-relay-events-2026-03-01-12.34.56.jsonl")
        try e.shutdown()
    }

    @Test func hugeTimeoutsSaturateInsteadOfExpiring() {
        #expect(monotonicDeadline(after: Int64.max) == Int64.max)
        #expect(monotonicDeadline(after: nil) == nil)
        #expect((monotonicDeadline(after: -5) ?? 0) <= monotonicDeadline(after: 0) ?? 0)
        let rt = Runtime()
        #expect(rt.flush(timeoutNanos: Int64.max))
    }

    @Test func unsafeOrUnopenablePathsFailAtCreationWithTheReferenceMessages() throws {
        func message(_ dir: String, _ name: String) -> String? {
            do {
                _ = try Exporter.atof(Self.fileConfig(dir, name))
                return nil
            } catch { return (error as? RelayError)?.displayText ?? "\(error)" }
        }
        let d = Self.tempDir()
        #expect(
            message("/proc/nope", "f.jsonl")?.hasPrefix("failed to open ATOF output file \"/proc/nope/f.jsonl\": ")
                == true)
        #expect(
            message(d, "")
                == "failed to open ATOF output file \"\(d)/\": observability output must be a confined relative file path"
        )
        #expect(
            message(d, "../x.jsonl")?.hasSuffix("observability output must be a confined relative file path") == true)
        #expect(
            message(d + "/a/../b", "x.jsonl")?.hasSuffix(
                "observability directory '\(d)/a/../b' contains unsafe traversal") == true)
        #expect(
            message(d, "/tmp/elsewhere.jsonl")?.hasSuffix(
                "observability output '/tmp/elsewhere.jsonl' is outside configured directory '\(d)'") == true)
        #expect(
            message("/dev", "full")
                == "failed to open ATOF output file \"/dev/full\": observability output 'full' is not a regular file")
        try FileManager.default.createDirectory(atPath: d + "/sub", withIntermediateDirectories: true)
        #expect(message(d, "sub")?.hasSuffix("observability output 'sub' is not a regular file") == true)
        try FileManager.default.createSymbolicLink(atPath: d + "/link.jsonl", withDestinationPath: d + "/target.jsonl")
        #expect(message(d, "link.jsonl")?.hasSuffix("refusing symlinked observability file 'link.jsonl'") == true)
        #expect(!FileManager.default.fileExists(atPath: d + "/target.jsonl"))
        // Accepted: an absolute name inside the directory, a name with a sub folder, an empty directory.
        #expect(message(d, d + "/abs.jsonl") == nil)
        #expect(message(d, "sub2/f.jsonl") == nil)
        #expect(ATOFFileSink.join("", "e.jsonl") == "e.jsonl")
        #expect(ATOFFileSink.join("rel/dir", "r.jsonl") == "rel/dir/r.jsonl")
        #expect(ATOFFileSink.join("/t/", "f.jsonl") == "/t/f.jsonl")
    }

    @Test func aDeregisteredExporterClosesItsFileWithoutARuntimeFlush() throws {
        let rt = Runtime()
        let d = Self.tempDir()
        let e = try Exporter.atof(Self.fileConfig(d, "closed.jsonl"))
        try e.register(on: rt, name: "c")
        rt.mark("m", stack: ScopeStack())
        #expect(e.deregister(from: rt, name: "c"))
        e.detach()
        func isOpen() -> Bool {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == d
                    + "/closed.jsonl"
            }
        }
        #expect(isOpen())  // the exporter object still holds its sink
        let weakSink = WeakBox(e.sink as AnyObject)
        _ = consume e
        let deadline = Date().addingTimeInterval(5)
        while (weakSink.value != nil || isOpen()) && Date() < deadline { usleep(1000) }
        #expect(weakSink.value == nil)
        #expect(!isOpen())
        #expect(Self.lines(d + "/closed.jsonl").count == 1)
    }

    @Test func aFileInThePathIsRefusedWithTheReferenceMessage() throws {
        let d = Self.tempDir()
        try "x".write(toFile: d + "/plain", atomically: true, encoding: .utf8)
        #expect(
            throws: RelayError(
                .export,
                "failed to open ATOF output file \"\(d)/plain/x/f.jsonl\": refusing unsafe observability directory component 'plain': Not a directory (os error 20)"
            )
        ) {
            _ = try Exporter.atof(Self.fileConfig(d + "/plain/x", "f.jsonl"))
        }
    }

    @Test func appendingDropsATornLastEventButNothingElse() throws {
        let d = Self.tempDir()
        let torn = d + "/torn.jsonl"
        try "{\"a\":1}\n{\"atof_version\":\"0.1\",\"attr".write(toFile: torn, atomically: true, encoding: .utf8)
        try Exporter.atof(Self.fileConfig(d, "torn.jsonl")).shutdown()
        #expect(try String(contentsOfFile: torn, encoding: .utf8) == "{\"a\":1}\n")
        let short = d + "/short.jsonl"
        try "{\"ato".write(toFile: short, atomically: true, encoding: .utf8)
        try Exporter.atof(Self.fileConfig(d, "short.jsonl")).shutdown()
        #expect(try String(contentsOfFile: short, encoding: .utf8) == "")
        let foreign = d + "/foreign.txt"
        try "notes without a newline".write(toFile: foreign, atomically: true, encoding: .utf8)
        try Exporter.atof(Self.fileConfig(d, "foreign.txt")).shutdown()
        #expect(try String(contentsOfFile: foreign, encoding: .utf8) == "notes without a newline")
    }

    @Test func filesAreMadePrivate() throws {
        let d = Self.tempDir()
        let path = d + "/p.jsonl"
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o644]))
        let e = try Exporter.atof(Self.fileConfig(d, "p.jsonl"))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(Self.lines(path) == ["old"])
        try e.shutdown()
    }

    @Test func configRejectsBadValuesWithClearMessages() {
        func message(_ j: JSONObject) -> String? {
            do {
                _ = try ATOFExporterConfig(json: .object(j))
                return nil
            } catch { return error.displayText }
        }
        #expect(message(["sink_type": "socket"]) == "invalid argument: sink_type must be 'file' or 'stream'")
        #expect(message(["mode": "rewrite"]) == "invalid argument: mode must be 'append' or 'overwrite'")
        #expect(message(["transport": "carrier-pigeon"]) != nil)
        #expect(message(["timeout_millis": -1]) != nil)
        #expect(message(["timeout_millis": "3000"]) != nil)
        #expect(message(["headers": ["a": 1]]) != nil)
        #expect(message(["field_name_policy": "upper"]) != nil)
        #expect(message(["output_dir": "x"]) == "invalid argument: unknown ATOF exporter config key \"output_dir\"")
        #expect(message([:]) == nil)
    }

    @Test func duplicateNamesFailAndRegistrationAfterShutdownDropsAndCounts() throws {
        let rt = Runtime()
        try rt.registerSubscriber(name: "taken") { _ in }
        let e = try Exporter.atof(Self.fileConfig(Self.tempDir()))
        #expect(throws: RelayError.alreadyExists("taken subscriber already exists")) {
            try e.register(on: rt, name: "taken")
        }
        try e.register(on: rt, name: "x")
        #expect(e.deregister(from: rt, name: "x"))
        #expect(!e.deregister(from: rt, name: "x"))
        try e.shutdown()
        try e.shutdown()
        // As in the reference, a shut-down exporter may be registered again; its events are dropped and counted.
        try e.register(on: rt, name: "y")
        rt.mark("late", stack: ScopeStack())
        try e.flush(timeoutNanos: 10_000_000_000)
        #expect(e.diagnostics["events_after_shutdown"] == .int(1))
    }

    @Test func twoNamesWriteEveryEventTwice() throws {
        let rt = Runtime()
        let dir = Self.tempDir()
        let e = try Exporter.atof(Self.fileConfig(dir))
        try e.register(on: rt, name: "one")
        try e.register(on: rt, name: "two")
        for _ in 0..<10 { rt.mark("m", stack: ScopeStack()) }
        try e.shutdown()
        #expect(Self.lines(dir + "/events.jsonl").count == 20)
        #expect(rt.subscriberNames.isEmpty)
    }

    @Test func writeFailureSurfacesFromFlushNotFromTheEmitter() throws {
        let rt = Runtime()
        // /dev/full accepts the open and fails every write with ENOSPC (allowed here for the test only).
        let sink = try ATOFFileSink(
            ATOFExporterConfig(json: ["output_directory": "/dev", "filename": "full"]), allowNonRegular: true)
        let e = Exporter(kind: "atof", sink: sink, queueCapacity: 1024)
        try e.register(on: rt, name: "full")
        rt.mark("m", stack: ScopeStack())
        #expect(throws: RelayError.self) { try e.flush(timeoutNanos: 10_000_000_000) }
        // Sticky: events were lost, and every later flush says so.
        #expect(throws: RelayError.self) { try e.flush(timeoutNanos: 10_000_000_000) }
        #expect(e.diagnostics["events_failed"] == .int(1))
        #expect(e.diagnostics["last_error"]?.stringValue?.contains("No space left on device") == true)
        #expect(throws: RelayError.self) { try e.shutdown() }
    }

    @Test func aFullQueueDropsAndCountsInsteadOfGrowing() throws {
        let rt = Runtime()
        // A FIFO nobody reads from blocks the writer: the queue behind it fills.
        let dir = Self.tempDir()
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let config = try ATOFExporterConfig(
            json: ["output_directory": .string(dir), "filename": "fifo", "queue_capacity": 16])
        let e = Exporter(kind: "atof", sink: try ATOFFileSink(config, allowNonRegular: true), queueCapacity: 16)
        try e.register(on: rt, name: "slow")
        let s = ScopeStack()
        let big = JSON.string(String(repeating: "x", count: 8192))
        for _ in 0..<200 { rt.mark("m", stack: s, data: big) }
        #expect(e.droppedEvents > 0)
        #expect(throws: RelayError.timeout("the atof exporter's queued events were not all delivered in time")) {
            try e.flush(timeoutNanos: 50_000_000)
        }
        // Drain the FIFO so the delivery thread can finish, then shut down within the bound.
        let drain = Thread {
            var buf = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(reader, &buf, buf.count)
                if n == 0 || (n < 0 && errno != EAGAIN) { break }
                if n < 0 { usleep(100) }
            }
        }
        drain.start()
        try? e.shutdown(timeoutNanos: 10_000_000_000)
        #expect(e.droppedEvents + (e.diagnostics["events_written"]?.int64Value.map(UInt64.init) ?? 0) == 200)
    }

    @Test func exporterCostsTheEmitterOnlyAnEnqueue() throws {
        // Registration is an ordinary subscriber lane: the emitting thread never writes.
        let rt = Runtime()
        let e = try Exporter.atof(Self.fileConfig(Self.tempDir()))
        try e.register(on: rt, name: "atof")
        #expect(rt.subscriberNames == ["atof"])
        try e.shutdown()
        #expect(rt.subscriberNames.isEmpty)
    }
}

/// A weak reference, to observe when an object is released (read on the test's own thread).
final class WeakBox {
    weak var value: AnyObject?
    init(_ v: AnyObject) { value = v }
}
