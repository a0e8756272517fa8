import LoupeModel
import Testing

/// Dates and days since the epoch, both ways, and RFC 3339 text from them.
@Suite struct CivilDateTests {
    @Test func daysAndDatesRoundTripAcrossEras() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let date = CivilDate.date(fromDays: days)
            #expect(CivilDate.days(year: date.year, month: date.month, day: date.day) == days)
        }
        #expect(CivilDate.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilDate.date(fromDays: 11_016) == (2000, 2, 29))
        #expect(CivilDate.date(fromDays: -1) == (1969, 12, 31))
    }

    @Test func rfc3339TextWithAndWithoutAFraction() {
        #expect(CivilDate.rfc3339(unixNanoseconds: 0) == "1970-01-01T00:00:00Z")
        #expect(CivilDate.rfc3339(unixNanoseconds: 1_800_000_000_123_456_789, fractionDigits: 6) == "2027-01-15T08:00:00.123456Z")
        #expect(CivilDate.rfc3339(unixNanoseconds: 1_800_000_000_000_000_789, fractionDigits: 9) == "2027-01-15T08:00:00.000000789Z")
        #expect(CivilDate.rfc3339(unixNanoseconds: -1) == "1969-12-31T23:59:59Z")
        #expect(CivilDate.rfc3339(unixNanoseconds: -1, fractionDigits: 3) == "1969-12-31T23:59:59.999Z")
        // What RFC3339 reads back is what was written.
        let text = CivilDate.rfc3339(unixNanoseconds: 1_234_567_890_987_654_321, fractionDigits: 9)
        #expect(RFC3339.nanoseconds(text) == 1_234_567_890_987_654_321)
    }
}
