// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import NemoRelay

@Suite struct JSONTests {
    @Test func roundTripsExactIntegers() throws {
        let text = #"{"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615,"d":0.1,"e":[true,false,null]}"#
        let v = try JSON.parse(text)
        #expect(v["a"] == .int(Int64.max))
        #expect(v["b"] == .int(Int64.min))
        #expect(v["c"] == .uint(UInt64.max))
        #expect(v.jsonString() == text)
    }
}
