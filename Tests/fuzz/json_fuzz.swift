// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the core's JSON parser and serializer (built by Tests/fuzz/run.sh).
// Any input must parse or fail with a JSONParseError; a parsed value must survive a round trip:
// parse(serialize(v)) == v for every spelling, and serialize is a fixed point on its own output.
import NemoRelay

/// Stops the run with a message libFuzzer reports as a crash (the input is saved as crash-<sha1>).
func fail(_ what: String, _ input: UnsafeBufferPointer<UInt8>) -> Never {
    fatalError("json_fuzz: \(what) for input \(Array(input.prefix(256)))")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    let value: JSON
    do {
        value = try JSON.parse(input)
    } catch {
        if error.offset < 0 || error.offset > size { fail("parse error offset \(error.offset) out of range", input) }
        return 0
    }
    let spellings: [(Bool, JSONWriter.DoubleSpelling)] = [(false, .swift), (true, .swift), (false, .reference)]
    for (sorted, spelling) in spellings {
        let text = value.serialized(sortedKeys: sorted, doubleSpelling: spelling)
        guard let again = try? JSON.parse(text) else { fail("serialized text does not parse", input) }
        if again != value { fail("parse(serialize(v)) != v (sorted: \(sorted), \(spelling))", input) }
        if again.serialized(sortedKeys: sorted, doubleSpelling: spelling) != text {
            fail("serialize is not a fixed point (sorted: \(sorted), \(spelling))", input)
        }
    }
    return 0
}
