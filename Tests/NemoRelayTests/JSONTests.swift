// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct JSONTests {
    @Test func keysAreBytesNotCanonicallyEquivalentStrings() throws {
        // U+00E9 and e + U+0301 are canonically equivalent strings but different keys.
        let v = try JSON.parse(#"{"\u00e9":1,"e\u0301":2}"#)
        let o = try #require(v.objectValue)
        #expect(o.count == 2)
        #expect(o["\u{E9}"] == .int(1))
        #expect(o["e\u{301}"] == .int(2))
        #expect(v.jsonString() == "{\"\u{E9}\":1,\"e\u{301}\":2}")
        // Equality and lookups by bytes, also once the object is large enough to be hashed.
        var big = JSONObject()
        for i in 0..<20 { big["k\(i)"] = .int(Int64(i)) }
        big["\u{E9}"] = 1
        big["e\u{301}"] = 2
        #expect(big.count == 22 && big["\u{E9}"] == 1 && big["e\u{301}"] == 2)
        #expect(JSON.object(["\u{E9}": 1]) != JSON.object(["e\u{301}": 1]))
        // Duplicate byte-identical keys: the last one wins, as in the reference.
        #expect(try JSON.parse(#"{"a":1,"a":2}"#) == ["a": 2])
    }

    @Test func negativeZeroAndHugeIntegersAreDocumentedChoices() throws {
        // "-0" keeps its sign (a double), as serde_json reads it; integers beyond 64 bits become doubles.
        let z = try JSON.parse("-0")
        guard case .double(let d) = z else {
            Issue.record("-0 parsed as \(z)")
            return
        }
        #expect(d == 0 && d.sign == .minus)
        #expect(z.serialized(doubleSpelling: .reference) == Array("-0.0".utf8))
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("18446744073709551616") == .double(18_446_744_073_709_551_616))
        #expect(try JSON.parse("-9223372036854775809") == .double(-0x1p63))  // the nearest double
    }

    @Test func roundTripsExactIntegers() throws {
        let text =
            #"{"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615,"d":0.1,"e":[true,false,null]}"#
        let v = try JSON.parse(text)
        #expect(v["a"] == .int(Int64.max))
        #expect(v["b"] == .int(Int64.min))
        #expect(v["c"] == .uint(UInt64.max))
        #expect(v.jsonString() == text)
    }

    // MARK: Parse errors

    static let errorCases: [(String, Int, String)] = [
        ("", 0, "unexpected end of input"),
        ("[1,]", 3, "unexpected character"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a":1,}"#, 7, "expected a string key"),
        ("[1 2]", 3, "expected ',' or ']'"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        ("tru", 0, "invalid literal"),
        ("nulx", 3, "invalid literal"),
        ("01", 1, "leading zero in number"),
        ("1.", 2, "expected digits after '.'"),
        ("1e+", 3, "expected digits in exponent"),
        ("-", 1, "invalid number"),
        ("1e400", 0, "number out of range"),
        (#""abc"#, 0, "unterminated string"),
        (#""a\qb""#, 3, "invalid escape"),
        (#""\u12G4""#, 5, #"invalid hex digit in \u escape"#),
        ("\"a\u{01}b\"", 2, "control character in string"),
        ("[1] x", 4, "unexpected trailing characters"),
        ("{", 1, "expected a string key"),
        ("[", 1, "unexpected end of input"),
    ]

    @Test(arguments: errorCases)
    func parseErrorsCarryReasonAndOffset(_ c: (String, Int, String)) {
        #expect(throws: JSONParseError(reason: c.2, offset: c.1)) { try JSON.parse(c.0) }
    }

    @Test func parseErrorDescriptionNamesTheByte() {
        #expect(JSONParseError(reason: "x", offset: 7).description == "x at byte 7")
    }

    // MARK: UTF-8 and surrogates

    @Test func invalidUTF8IsRejectedWithItsOffset() {
        // "ab<0xFF>" inside a string: the bad byte is at offset 3.
        #expect(throws: JSONParseError(reason: "invalid UTF-8 in string", offset: 3)) {
            try JSON.parse([0x22, 0x61, 0x62, 0xFF, 0x22])
        }
        // Overlong encoding of '/', a UTF-16 surrogate encoded in UTF-8, and a truncated sequence.
        for bad: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            #expect(throws: JSONParseError.self) { try JSON.parse(bad) }
        }
        // Invalid UTF-8 after escapes (the slow path) is rejected with its offset in the input,
        // not in the unescaped text: `"\n\n\n<0xFF>"` has the bad byte at offset 7.
        #expect(throws: JSONParseError(reason: "invalid UTF-8 in string", offset: 7)) {
            try JSON.parse([0x22, 0x5C, 0x6E, 0x5C, 0x6E, 0x5C, 0x6E, 0xFF, 0x22])
        }
        // A lead byte cut short by an escape is invalid, whatever the escape decodes to.
        #expect(throws: JSONParseError(reason: "invalid UTF-8 in string", offset: 1)) {
            try JSON.parse([0x22, 0xC3, 0x5C, 0x75, 0x30, 0x30, 0x61, 0x39, 0x22])  // "<C3>\u00a9"
        }
        // A raw byte outside a string.
        #expect(throws: JSONParseError(reason: "unexpected character", offset: 0)) { try JSON.parse([0xFF]) }
    }

    @Test func validUTF8AndEscapesDecode() throws {
        #expect(try JSON.parse("\"h\u{E9}llo \u{1F600}\"") == .string("h\u{E9}llo \u{1F600}"))
        #expect(try JSON.parse(#""\u00e9\ud83d\ude00\n\t\/\"\\""#) == .string("\u{E9}\u{1F600}\n\t/\"\\"))
    }

    @Test func loneSurrogatesAreRejected() {
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\ud800""#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\ud800x""#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\udc00""#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\ud800\u0041""#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\ud800\ud800""#) }
    }

    // MARK: Nesting

    @Test func nestingUpToTheLimitParses() throws {
        let n = JSON.maxParseDepth
        let text = String(repeating: "[", count: n) + String(repeating: "]", count: n)
        var v = try JSON.parse(text)
        var depth = 0
        while case .array(let a) = v {
            depth += 1
            guard let f = a.first else { break }
            v = f
        }
        #expect(depth == n)
        let objs = String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n)
        #expect(throws: Never.self) { try JSON.parse(objs) }
    }

    @Test func nestingBeyondTheLimitFails() {
        let n = JSON.maxParseDepth + 1
        #expect(throws: JSONParseError(reason: "nesting too deep", offset: n - 1)) {
            try JSON.parse(String(repeating: "[", count: n) + String(repeating: "]", count: n))
        }
        // Far too deep input fails cleanly instead of exhausting the stack.
        #expect(throws: JSONParseError.self) { try JSON.parse(String(repeating: "[", count: 100_000)) }
        #expect(throws: JSONParseError.self) {
            try JSON.parse(String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n))
        }
    }

    // MARK: Numbers

    @Test func integerEdges() throws {
        #expect(try JSON.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSON.parse("9223372036854775808") == .uint(9_223_372_036_854_775_808))
        #expect(try JSON.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSON.parse("18446744073709551615") == .uint(UInt64.max))
        // Outside both ranges: a double.
        guard case .double(let d) = try JSON.parse("18446744073709551616") else {
            Issue.record("expected a double")
            return
        }
        #expect(d == 18446744073709551616.0)
        guard case .double(let m) = try JSON.parse("-9223372036854775809") else {
            Issue.record("expected a double")
            return
        }
        #expect(m == -0x1p63)  // -9223372036854775808, the nearest double
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-0") == .int(0))
        // Exact integers survive a round trip as text.
        for t in ["9223372036854775807", "-9223372036854775808", "18446744073709551615", "0", "-1", "42"] {
            #expect(try JSON.parse(t).jsonString() == t)
        }
        #expect(JSON.uint(UInt64.max).int64Value == nil)
        #expect(JSON.uint(5).int64Value == 5)
        #expect(JSON.double(3.0).int64Value == 3)
        #expect(JSON.double(3.5).int64Value == nil)
    }

    @Test func doublesRoundTrip() throws {
        let values: [Double] = [
            0.1, 0.2, 0.30000000000000004, 1e-7, 1.5e300, -2.5e-300, .leastNonzeroMagnitude, 1.7976931348623157e308,
            123456.789,
            2.2250738585072014e-308, 1.0, -0.0, 9007199254740993.0, 0.000123,
        ]
        for d in values {
            let text = JSON.double(d).jsonString()
            guard case .double(let back) = try JSON.parse(text) else {
                Issue.record("\(text) did not parse as a double")
                continue
            }
            #expect(back == d && back.sign == d.sign, "\(d) -> \(text) -> \(back)")
        }
        // Parsing: correctly rounded in both the fast and the slow path.
        #expect(try JSON.parse("0.1") == .double(0.1))
        #expect(try JSON.parse("1.25e2") == .double(125))
        #expect(try JSON.parse("3.141592653589793238462643383279") == .double(3.141592653589793))
        #expect(try JSON.parse("-1E-2") == .double(-0.01))
        #expect(JSON.double(.nan).jsonString() == "null")
        #expect(JSON.double(.infinity).jsonString() == "null")
    }

    /// Spellings the reference 0.10.4 wrote for these doubles in `AtifExporter.export_json()`.
    static let referenceSpellings: [(Double, String)] = [
        (1e15, "1000000000000000.0"), (1e16, "1e+16"), (1e17, "1e+17"), (1e-5, "0.00001"), (1e-4, "0.0001"),
        (0.001, "0.001"), (1.5e300, "1.5e+300"), (123456789012345680000.0, "1.2345678901234568e+20"),
        (1e21, "1e+21"), (1.0, "1.0"), (-0.0, "-0.0"), (12345678901234567.0, "1.2345678901234568e+16"),
        (0.1, "0.1"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (1e-6, "1e-6"), (1.234e-6, "1.234e-6"),
        (9999999999999998.0, "9999999999999998.0"), (1234567890123456.7, "1234567890123456.8"), (1e100, "1e+100"),
        (123.456, "123.456"), (100.0, "100.0"), (1.25e15, "1250000000000000.0"), (3e-5, "0.00003"),
        (9.5e-7, "9.5e-7"), (-2.5, "-2.5"), (0.0, "0.0"), (1767323045.143, "1767323045.143"),
    ]

    @Test(arguments: referenceSpellings)
    func referenceDoubleSpelling(_ value: Double, _ expected: String) throws {
        let bytes = JSON.double(value).serialized(doubleSpelling: .reference)
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        guard case .double(let back) = try JSON.parse(bytes) else {
            Issue.record("\(expected) did not parse as a double")
            return
        }
        #expect(back == value && back.sign == value.sign)
    }

    @Test func structuralEqualityComparesNumbersByValue() throws {
        #expect(JSON.int(1) == JSON.double(1.0))
        #expect(JSON.double(1.0) == JSON.int(1))
        #expect(JSON.uint(9_223_372_036_854_775_808) == JSON.double(9_223_372_036_854_775_808.0))
        #expect(JSON.int(1) == JSON.uint(1))
        #expect(JSON.int(-1) != JSON.uint(UInt64.max))
        #expect(JSON.int(1) != JSON.double(1.5))
        #expect(JSON.int(Int64.max) != JSON.double(9_223_372_036_854_775_808.0))
        #expect(JSON.int(1) != JSON.string("1"))
        #expect(JSON.bool(true) != JSON.int(1))
        #expect(try JSON.parse(#"{"a":1,"b":[1.0,2]}"#) == JSON.parse(#"{"b":[1,2.0],"a":1.0}"#))
        #expect(try JSON.parse(#"{"a":1}"#) != JSON.parse(#"{"a":1,"b":null}"#))
        #expect(try JSON.parse("[1,2]") != JSON.parse("[2,1]"))
    }

    // MARK: Objects

    @Test func keyOrderIsPreservedAndSortable() throws {
        let text = #"{"z":1,"a":{"y":2,"b":3},"m":[{"k2":1,"k1":2}]}"#
        let v = try JSON.parse(text)
        #expect(v.jsonString() == text)
        #expect(v.objectValue?.keys == ["z", "a", "m"])
        #expect(v.jsonString(sortedKeys: true) == #"{"a":{"b":3,"y":2},"m":[{"k1":2,"k2":1}],"z":1}"#)
        // Byte order, not locale order: uppercase before lowercase.
        #expect(try JSON.parse(#"{"b":1,"B":2,"a":3}"#).jsonString(sortedKeys: true) == #"{"B":2,"a":3,"b":1}"#)
    }

    @Test func objectEditsKeepPositions() {
        var o = JSONObject()
        for i in 0..<20 { o["k\(i)"] = .int(Int64(i)) }  // crosses the hash-index threshold
        o["k3"] = "three"
        #expect(o.keys[3] == "k3")
        #expect(o["k3"] == "three")
        o["k5"] = nil
        #expect(o.count == 19)
        #expect(o["k5"] == nil)
        #expect(o["k19"] == .int(19))
        #expect(o.keys[5] == "k6")
        o["new"] = true
        #expect(o.keys.last == "new")
        #expect(o["new"] == true)
        // Duplicate keys in input: the last value wins, the first position stays.
        let v = try? JSON.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(v?.objectValue?.keys == ["a", "b"])
        #expect(v?["a"] == .int(3))
    }

    // MARK: Serializer

    @Test func serializerEscapes() {
        let s = JSON.string(
            "q\" b\\ n\n r\r t\t b\u{08} f\u{0C} nul\u{00} us\u{1F} del\u{7F} / \u{E9} \u{1F600} \u{2028}")
        #expect(
            s.jsonString()
                == "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f nul\\u0000 us\\u001f del\u{7F} / \u{E9} \u{1F600} \u{2028}\""
        )
        // What the serializer writes parses back to the same string.
        #expect((try? JSON.parse(s.jsonString())) == s)
        // Keys are escaped the same way.
        #expect(JSON.object(["a\"b": 1]).jsonString() == #"{"a\"b":1}"#)
    }

    @Test func compactForms() {
        let v: JSON = ["a": [1, 2.5, "x", nil, true, false], "b": [:], "c": []]
        #expect(v.jsonString() == #"{"a":[1,2.5,"x",null,true,false],"b":{},"c":[]}"#)
        #expect(JSON.int(Int64.min).jsonString() == "-9223372036854775808")
        #expect(JSON.uint(UInt64.max).jsonString() == "18446744073709551615")
    }
}

/// The word-at-a-time string scanners must agree with a byte-by-byte reference on every input.
@Suite struct JSONStringScanTests {
    @Test func randomStringsRoundTripThroughTheWriterAndParser() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Character] = [
            "a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "😀", "\u{7F}", "/",
        ]
        for _ in 0..<2_000 {
            let n = Int.random(in: 0...40, using: &rng)
            let s = String((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
            let text = JSON.string(s).jsonString()
            // Every control character and quote is escaped; the text parses back to the same string.
            #expect(!text.utf8.dropFirst().dropLast().contains { $0 < 0x20 })
            #expect(try JSON.parse(text) == .string(s))
        }
    }

    @Test func controlAndQuoteBytesAreFoundInEveryLanePosition() throws {
        for offset in 0..<16 {
            for bad: UInt8 in [0x22, 0x5C, 0x00, 0x1F] {
                var bytes = Array(repeating: UInt8(ascii: "x"), count: 24)
                bytes[offset] = bad
                let s = String(decoding: bytes, as: UTF8.self)
                let text = JSON.string(s).jsonString()
                #expect(try JSON.parse(text) == .string(s))
                // Raw (unescaped) control bytes inside a string are rejected at the right offset.
                if bad < 0x20 {
                    let raw = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
                    #expect(throws: JSONParseError(reason: "control character in string", offset: offset + 1)) {
                        try JSON.parse(raw)
                    }
                }
            }
        }
    }
}

/// Edges of the parser's container stacks, duplicate-key search and word-wise string scan, and of the
/// writer's run copying and key sorting.
@Suite struct JSONFastPathTests {
    @Test func duplicateKeysKeepTheFirstPositionAndTheLastValueAtEverySize() throws {
        for n in [2, 11, 12, 13, 14, 40] {
            // Keys k0...k(n-1), then k0 and k(n-1) again: the shape assigning through the subscript gives.
            var members = (0..<n).map { #""k\#($0)":\#($0)"# }
            members.append(#""k0":"first again""#)
            members.append(#""k\#(n - 1)":"last again""#)
            let parsed = try #require(try JSON.parse("{" + members.joined(separator: ",") + "}").objectValue)
            var built = JSONObject()
            for i in 0..<n { built["k\(i)"] = .int(Int64(i)) }
            built["k0"] = "first again"
            built["k\(n - 1)"] = "last again"
            #expect(parsed.keys == built.keys)
            #expect(parsed.count == n)
            #expect(parsed["k0"] == "first again" && parsed["k\(n - 1)"] == "last again")
            #expect(JSON.object(parsed).jsonString() == JSON.object(built).jsonString())
            // Lookups agree on both sides of the hash-index threshold.
            for i in 1..<(n - 1) { #expect(parsed["k\(i)"] == .int(Int64(i))) }
            #expect(parsed["k\(n)"] == nil)
        }
    }

    @Test func canonicallyEquivalentKeysStayDistinctInLargeParsedObjects() throws {
        let filler = (0..<14).map { #""f\#($0)":0"# }.joined(separator: ",")
        for text in [#"{"\u00e9":1,"e\u0301":2,"#, "{\"\u{E9}\":1,\"e\u{301}\":2,"] {
            let o = try #require(try JSON.parse(text + filler + "}").objectValue)
            #expect(o.count == 16)
            #expect(o["\u{E9}"] == 1 && o["e\u{301}"] == 2)
            // A duplicate of either, byte for byte, replaces only that one.
            let dup = try #require(try JSON.parse(text + filler + #","e\u0301":3}"#).objectValue)
            #expect(dup.count == 16 && dup["\u{E9}"] == 1 && dup["e\u{301}"] == 3)
        }
    }

    @Test func plainRunsOfEveryLengthThenAnEscapeOrANonASCIIByte() throws {
        for n in 0..<40 {
            let run = String((0..<n).map { Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0 % 26))) })
            for tail in ["\"", "\\", "\n", "\u{01}", "\u{E9}", "\u{1F600}", "\u{7F}", "x"] {
                for s in [run + tail, run + tail + run, tail + run] {
                    let text = JSON.string(s).jsonString()
                    #expect(try JSON.parse(text) == .string(s))
                    // The same string as an object key and in an array, where other bytes follow it.
                    let doc = JSON.object(["k": [.string(s), .string(s)], s: 1])
                    #expect(try JSON.parse(doc.jsonString()) == doc)
                }
            }
            // An escape in the input after the run decodes; a bad UTF-8 byte after it is found at its offset.
            #expect(try JSON.parse("\"" + run + #"\u00e9\n""#) == .string(run + "\u{E9}\n"))
            let bad = Array(("\"" + run).utf8) + [0xC3, 0x28, UInt8(ascii: "\"")]
            #expect(throws: JSONParseError(reason: "invalid UTF-8 in string", offset: n + 1)) { try JSON.parse(bad) }
            let badAfterEscape = Array(("\"" + run + "\\n").utf8) + [0xFF, UInt8(ascii: "\"")]
            #expect(throws: JSONParseError(reason: "invalid UTF-8 in string", offset: n + 3)) {
                try JSON.parse(badAfterEscape)
            }
        }
    }

    @Test func stringsThatShareTheirFirstBytesAreNotConfused() throws {
        // Keys and values around the 8- and 16-byte word boundaries, differing in their last byte.
        let keys = [
            "a", "ab", "abcdefgh", "abcdefgi", "abcdefghi", "abcdefghijklmno", "abcdefghijklmnp", "abcdefghijklmnop",
            "b", "ba", " a", "a ",
        ]
        let members = keys.map { #""\#($0)":"\#($0)""# }
        // Twice over, in both orders; the end of the input is near for the last ones.
        let text = "[{" + members.joined(separator: ",") + "},{" + members.reversed().joined(separator: ",") + "}]"
        let a = try #require(try JSON.parse(text).arrayValue)
        #expect(a.count == 2)
        for o in a {
            let o = try #require(o.objectValue)
            #expect(o.count == keys.count)
            for k in keys { #expect(o[k] == .string(k)) }
        }
        #expect(try JSON.parse(#"["abc","abcd","abc"]"#) == ["abc", "abcd", "abc"])
        // Strings that end right at the end of the input.
        #expect(try JSON.parse(#""abc""#) == "abc")
        #expect(try JSON.parse(#""abcdefghijklmno""#) == "abcdefghijklmno")
    }

    @Test func sortedKeysFollowTheirBytesPastTheFirstEight() {
        let o: JSON = [
            "abcdefghZ": 1, "abcdefgh": 2, "abcdefghA": 3, "b": 4, "": 5, "\u{E9}": 6, "abcdefgh\u{E9}": 7, "B": 8,
            "abcdefg": 9,
        ]
        let expected =
            "{\"\":5,\"B\":8,\"abcdefg\":9,\"abcdefgh\":2,\"abcdefghA\":3,\"abcdefghZ\":1,\"abcdefgh\u{E9}\":7,"
            + "\"b\":4,\"\u{E9}\":6}"
        #expect(o.jsonString(sortedKeys: true) == expected)
    }

    @Test func escapesNextToNonASCIIBytesInOneWord() throws {
        // A byte above 0x7F whose low seven bits are a quote or a backslash, next to a real one.
        for s in ["\u{A2}\"", "\u{A2}#", "\u{DC}\\x", "é\"é\\é\n", "\u{7DC}\u{0}abcdefgh"] {
            let text = JSON.string(s).jsonString()
            #expect(!text.utf8.dropFirst().dropLast().contains { $0 < 0x20 })
            #expect(try JSON.parse(text) == .string(s))
        }
        #expect(JSON.string("\u{A2}\"").jsonString() == "\"\u{A2}\\\"\"")
    }
}
