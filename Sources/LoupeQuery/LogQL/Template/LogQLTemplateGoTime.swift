import LoupeModel

// Go's time.Time as templates see it: an instant with a zone (name and fixed offset), civil-date
// arithmetic, Time.Format and time.Parse over Go's reference-time layouts, Time.String, and
// time.ParseDuration. Zones: UTC, Local (taken to be UTC, as on a Loki server without TZ) and fixed
// offsets; IANA names other than UTC and the Etc/GMT±N family are not loaded (see LogQLTemplate.zone).

extension LogQLTemplate {
    /// A zone: the abbreviation Go prints for "MST" and the offset east of UTC in seconds.
    struct GoZone: Sendable, Equatable {
        var name: String
        var offsetSeconds: Int

        static let utc = GoZone(name: "UTC", offsetSeconds: 0)
    }

    /// A Go time.Time: seconds and nanoseconds since the Unix epoch, shown in `zone`.
    struct GoTime: Sendable, Equatable {
        var unixSeconds: Int64
        var nanoseconds: Int32
        var zone: GoZone

        init(unixSeconds: Int64, nanoseconds: Int32 = 0, zone: GoZone = .utc) {
            self.unixSeconds = unixSeconds
            self.nanoseconds = nanoseconds
            self.zone = zone
        }

        /// time.Unix(0, nanoseconds).
        init(unixNanoseconds: Int64, zone: GoZone = .utc) {
            var seconds = unixNanoseconds / 1_000_000_000
            var rest = unixNanoseconds % 1_000_000_000
            if rest < 0 {
                rest += 1_000_000_000
                seconds -= 1
            }
            self.init(unixSeconds: seconds, nanoseconds: Int32(rest), zone: zone)
        }

        /// The zero time.Time: January 1, year 1, 00:00:00 UTC.
        static let zero = GoTime(unixSeconds: -62_135_596_800)

        var isZero: Bool { unixSeconds == -62_135_596_800 && nanoseconds == 0 }

        /// UnixNano wraps like Go's int64 arithmetic.
        var unixNanoseconds: Int64 { unixSeconds &* 1_000_000_000 &+ Int64(nanoseconds) }
        var unixMilliseconds: Int64 { unixSeconds &* 1000 &+ Int64(nanoseconds / 1_000_000) }
        var unixMicroseconds: Int64 { unixSeconds &* 1_000_000 &+ Int64(nanoseconds / 1000) }

        /// Seconds since the epoch in the time's own zone.
        var localSeconds: Int64 { unixSeconds &+ Int64(zone.offsetSeconds) }

        var civil: GoCivil { GoCivil(localSeconds: localSeconds) }
    }

    /// Calendar fields of a local time (proleptic Gregorian), from days since 1970-01-01.
    struct GoCivil {
        var year: Int
        var month: Int       // 1...12
        var day: Int         // 1...31
        var hour: Int
        var minute: Int
        var second: Int
        var weekday: Int     // 0 = Sunday
        var yearDay: Int     // 1...366

        init(localSeconds: Int64) {
            var days = localSeconds / 86_400
            var secondOfDay = localSeconds % 86_400
            if secondOfDay < 0 {
                secondOfDay += 86_400
                days -= 1
            }
            hour = Int(secondOfDay / 3600)
            minute = Int(secondOfDay / 60 % 60)
            second = Int(secondOfDay % 60)
            (year, month, day) = GoCivil.date(fromDays: days)
            let weekdayIndex = (days + 4) % 7
            weekday = Int(weekdayIndex < 0 ? weekdayIndex + 7 : weekdayIndex)
            yearDay = Int(days - GoCivil.days(year: year, month: 1, day: 1)) + 1
        }

        static func date(fromDays daysSinceEpoch: Int64) -> (Int, Int, Int) {
            let date = CivilDate.date(fromDays: daysSinceEpoch)
            return (date.year, date.month, date.day)
        }

        static func days(year: Int, month: Int, day: Int) -> Int64 {
            CivilDate.days(year: year, month: month, day: day)
        }

        static func isLeap(_ year: Int) -> Bool {
            year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        }

        static func daysIn(month: Int, year: Int) -> Int {
            switch month {
            case 2: return isLeap(year) ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }
    }

    enum GoTimeFormat {
        static let longMonthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"]
        static let shortMonthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        static let longDayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        static let shortDayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

        /// time.Month.String: names, or "%!Month(n)" out of range.
        static func monthName(_ month: Int64) -> String {
            if month >= 1 && month <= 12 { return longMonthNames[Int(month) - 1] }
            return "%!Month(\(month))"
        }

        static func weekdayName(_ day: Int64) -> String {
            if day >= 0 && day <= 6 { return longDayNames[Int(day)] }
            return "%!Weekday(\(day))"
        }

        /// The elements of a layout (time's nextStdChunk).
        enum Element: Equatable {
            case longMonth, month, numMonth, zeroMonth
            case longWeekDay, weekDay
            case day, underDay, zeroDay, underYearDay, zeroYearDay
            case hour, hour12, zeroHour12, minute, zeroMinute, second, zeroSecond
            case longYear, year
            case pm, lowerPM
            case zoneName
            case iso8601, iso8601Seconds, iso8601Short, iso8601Colon, iso8601ColonSeconds
            case numericZone, numericSecondsZone, numericShortZone, numericColonZone, numericColonSecondsZone
            case fraction(digits: Int, trimZeros: Bool, separator: UInt8)
        }

        /// Splits `layout[start...]` at its next element: (prefix end, element, suffix start).
        static func nextElement(_ layout: [UInt8], from start: Int) -> (prefixEnd: Int, element: Element?, suffixStart: Int) {
            func has(_ text: StaticString, at index: Int) -> Bool {
                let count = text.utf8CodeUnitCount
                guard index + count <= layout.count else { return false }
                let start = text.utf8Start
                for offset in 0..<count where layout[index + offset] != start[offset] { return false }
                return true
            }
            func startsWithLowercase(_ index: Int) -> Bool {
                index < layout.count && layout[index] >= UInt8(ascii: "a") && layout[index] <= UInt8(ascii: "z")
            }
            var index = start
            while index < layout.count {
                switch layout[index] {
                case UInt8(ascii: "J"):
                    if has("Jan", at: index) {
                        if has("January", at: index) { return (index, .longMonth, index + 7) }
                        if !startsWithLowercase(index + 3) { return (index, .month, index + 3) }
                    }
                case UInt8(ascii: "M"):
                    if has("Mon", at: index) {
                        if has("Monday", at: index) { return (index, .longWeekDay, index + 6) }
                        if !startsWithLowercase(index + 3) { return (index, .weekDay, index + 3) }
                    }
                    if has("MST", at: index) { return (index, .zoneName, index + 3) }
                case UInt8(ascii: "0"):
                    if index + 1 < layout.count && layout[index + 1] >= UInt8(ascii: "1") && layout[index + 1] <= UInt8(ascii: "6") {
                        let elements: [Element] = [.zeroMonth, .zeroDay, .zeroHour12, .zeroMinute, .zeroSecond, .year]
                        return (index, elements[Int(layout[index + 1] - UInt8(ascii: "1"))], index + 2)
                    }
                    if has("002", at: index) { return (index, .zeroYearDay, index + 3) }
                case UInt8(ascii: "1"):
                    if has("15", at: index) { return (index, .hour, index + 2) }
                    return (index, .numMonth, index + 1)
                case UInt8(ascii: "2"):
                    if has("2006", at: index) { return (index, .longYear, index + 4) }
                    return (index, .day, index + 1)
                case UInt8(ascii: "_"):
                    if has("_2", at: index) {
                        // "_2006" is a literal underscore followed by the long year.
                        if has("_2006", at: index) { return (index + 1, .longYear, index + 5) }
                        return (index, .underDay, index + 2)
                    }
                    if has("__2", at: index) { return (index, .underYearDay, index + 3) }
                case UInt8(ascii: "3"): return (index, .hour12, index + 1)
                case UInt8(ascii: "4"): return (index, .minute, index + 1)
                case UInt8(ascii: "5"): return (index, .second, index + 1)
                case UInt8(ascii: "P"):
                    if has("PM", at: index) { return (index, .pm, index + 2) }
                case UInt8(ascii: "p"):
                    if has("pm", at: index) { return (index, .lowerPM, index + 2) }
                case UInt8(ascii: "-"):
                    if has("-070000", at: index) { return (index, .numericSecondsZone, index + 7) }
                    if has("-07:00:00", at: index) { return (index, .numericColonSecondsZone, index + 9) }
                    if has("-0700", at: index) { return (index, .numericZone, index + 5) }
                    if has("-07:00", at: index) { return (index, .numericColonZone, index + 6) }
                    if has("-07", at: index) { return (index, .numericShortZone, index + 3) }
                case UInt8(ascii: "Z"):
                    if has("Z070000", at: index) { return (index, .iso8601Seconds, index + 7) }
                    if has("Z07:00:00", at: index) { return (index, .iso8601ColonSeconds, index + 9) }
                    if has("Z0700", at: index) { return (index, .iso8601, index + 5) }
                    if has("Z07:00", at: index) { return (index, .iso8601Colon, index + 6) }
                    if has("Z07", at: index) { return (index, .iso8601Short, index + 3) }
                case UInt8(ascii: "."), UInt8(ascii: ","):
                    if index + 1 < layout.count && (layout[index + 1] == UInt8(ascii: "0") || layout[index + 1] == UInt8(ascii: "9")) {
                        let digit = layout[index + 1]
                        var end = index + 1
                        while end < layout.count && layout[end] == digit { end += 1 }
                        // The run of digits must end here: a fractional second is all digits.
                        let followedByDigit = end < layout.count && layout[end] >= UInt8(ascii: "0") && layout[end] <= UInt8(ascii: "9")
                        if !followedByDigit {
                            let element = Element.fraction(digits: end - (index + 1), trimZeros: digit == UInt8(ascii: "9"),
                                                           separator: layout[index])
                            return (index, element, end)
                        }
                    }
                default:
                    break
                }
                index += 1
            }
            return (layout.count, nil, layout.count)
        }

        private static func append(_ value: Int, width: Int, to out: inout [UInt8]) {
            var magnitude = value.magnitude
            if value < 0 { out.append(UInt8(ascii: "-")) }
            var digits = 1
            var scale: UInt = 1
            while magnitude / scale >= 10 {
                scale *= 10
                digits += 1
            }
            var padding = width - digits
            while padding > 0 {
                out.append(UInt8(ascii: "0"))
                padding -= 1
            }
            while scale > 0 {
                out.append(UInt8(ascii: "0") + UInt8(magnitude / scale))
                magnitude %= scale
                scale /= 10
            }
        }

        /// Time.Format.
        static func format(_ time: GoTime, layout: String) -> String {
            let bytes = Array(layout.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 10)
            let civil = time.civil
            var position = 0
            while position < bytes.count {
                let (prefixEnd, element, suffixStart) = nextElement(bytes, from: position)
                out.append(contentsOf: bytes[position..<prefixEnd])
                guard let element else { break }
                position = suffixStart
                switch element {
                case .year:
                    append(abs(civil.year) % 100, width: 2, to: &out)
                case .longYear:
                    append(civil.year, width: 4, to: &out)
                case .month:
                    out.append(contentsOf: shortMonthNames[civil.month - 1].utf8)
                case .longMonth:
                    out.append(contentsOf: longMonthNames[civil.month - 1].utf8)
                case .numMonth:
                    append(civil.month, width: 0, to: &out)
                case .zeroMonth:
                    append(civil.month, width: 2, to: &out)
                case .weekDay:
                    out.append(contentsOf: shortDayNames[civil.weekday].utf8)
                case .longWeekDay:
                    out.append(contentsOf: longDayNames[civil.weekday].utf8)
                case .day:
                    append(civil.day, width: 0, to: &out)
                case .underDay:
                    if civil.day < 10 { out.append(UInt8(ascii: " ")) }
                    append(civil.day, width: 0, to: &out)
                case .zeroDay:
                    append(civil.day, width: 2, to: &out)
                case .underYearDay:
                    if civil.yearDay < 100 {
                        out.append(UInt8(ascii: " "))
                        if civil.yearDay < 10 { out.append(UInt8(ascii: " ")) }
                    }
                    append(civil.yearDay, width: 0, to: &out)
                case .zeroYearDay:
                    append(civil.yearDay, width: 3, to: &out)
                case .hour:
                    append(civil.hour, width: 2, to: &out)
                case .hour12, .zeroHour12:
                    let hour = civil.hour % 12 == 0 ? 12 : civil.hour % 12
                    append(hour, width: element == .hour12 ? 0 : 2, to: &out)
                case .minute:
                    append(civil.minute, width: 0, to: &out)
                case .zeroMinute:
                    append(civil.minute, width: 2, to: &out)
                case .second:
                    append(civil.second, width: 0, to: &out)
                case .zeroSecond:
                    append(civil.second, width: 2, to: &out)
                case .pm:
                    out.append(contentsOf: (civil.hour >= 12 ? "PM" : "AM").utf8)
                case .lowerPM:
                    out.append(contentsOf: (civil.hour >= 12 ? "pm" : "am").utf8)
                case .iso8601, .iso8601Colon, .iso8601Seconds, .iso8601Short, .iso8601ColonSeconds,
                    .numericZone, .numericColonZone, .numericSecondsZone, .numericShortZone, .numericColonSecondsZone:
                    let isISO = [Element.iso8601, .iso8601Colon, .iso8601Seconds, .iso8601Short, .iso8601ColonSeconds].contains(element)
                    let offset = time.zone.offsetSeconds
                    if offset == 0 && isISO {
                        out.append(UInt8(ascii: "Z"))
                        break
                    }
                    var zoneMinutes = offset / 60
                    var absoluteOffset = offset
                    if zoneMinutes < 0 {
                        out.append(UInt8(ascii: "-"))
                        zoneMinutes = -zoneMinutes
                        absoluteOffset = -absoluteOffset
                    } else {
                        out.append(UInt8(ascii: "+"))
                    }
                    append(zoneMinutes / 60, width: 2, to: &out)
                    let colon = [Element.iso8601Colon, .numericColonZone, .iso8601ColonSeconds, .numericColonSecondsZone].contains(element)
                    if colon { out.append(UInt8(ascii: ":")) }
                    if element != .numericShortZone && element != .iso8601Short { append(zoneMinutes % 60, width: 2, to: &out) }
                    if [Element.iso8601Seconds, .numericSecondsZone, .numericColonSecondsZone, .iso8601ColonSeconds].contains(element) {
                        if element == .numericColonSecondsZone || element == .iso8601ColonSeconds { out.append(UInt8(ascii: ":")) }
                        append(absoluteOffset % 60, width: 2, to: &out)
                    }
                case .zoneName:
                    if !time.zone.name.isEmpty {
                        out.append(contentsOf: time.zone.name.utf8)
                        break
                    }
                    var zoneMinutes = time.zone.offsetSeconds / 60
                    if zoneMinutes < 0 {
                        out.append(UInt8(ascii: "-"))
                        zoneMinutes = -zoneMinutes
                    } else {
                        out.append(UInt8(ascii: "+"))
                    }
                    append(zoneMinutes / 60, width: 2, to: &out)
                    append(zoneMinutes % 60, width: 2, to: &out)
                case .fraction(let digits, let trimZeros, let separator):
                    let nanoseconds = Int(time.nanoseconds)
                    if trimZeros && (digits == 0 || nanoseconds == 0) { break }
                    var fraction: [UInt8] = [separator]
                    append(nanoseconds, width: 9, to: &fraction)
                    if digits < 9 { fraction.removeLast(9 - digits) }
                    if trimZeros {
                        while let last = fraction.last, last == UInt8(ascii: "0") { fraction.removeLast() }
                        if fraction.last == separator { fraction.removeLast() }
                    }
                    out.append(contentsOf: fraction)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// Time.String: "2006-01-02 15:04:05.999999999 -0700 MST" (no monotonic reading).
        static func string(_ time: GoTime) -> String {
            format(time, layout: "2006-01-02 15:04:05.999999999 -0700 MST")
        }

        // MARK: - Parse

        /// time.ParseInLocation(layout, value, location), with Local = UTC. The error text is Go's.
        static func parse(layout: String, value: String, location: GoZone) -> Result<GoTime, LogQLTemplateError> {
            let layoutBytes = Array(layout.utf8)
            let valueBytes = Array(value.utf8)
            var layoutIndex = 0
            var valueIndex = 0
            var amSet = false
            var pmSet = false
            var year = 0
            var month = -1
            var day = -1
            var yearDay = -1
            var hour = 0
            var minute = 0
            var second = 0
            var nanosecond = 0
            var explicitZone: GoZone?
            var zoneOffset: Int?
            var zoneName = ""

            func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
                String(decoding: bytes[range], as: UTF8.self)
            }
            func failure(_ layoutElement: String, _ valueElement: String, _ message: String = "") -> Result<GoTime, LogQLTemplateError> {
                if message.isEmpty {
                    return .failure(LogQLTemplateError(
                        "parsing time \(goQuote(value)) as \(goQuote(layout)): cannot parse \(goQuote(valueElement)) as \(goQuote(layoutElement))"))
                }
                return .failure(LogQLTemplateError("parsing time \(goQuote(value))\(message)"))
            }
            func isDigit(_ index: Int) -> Bool {
                index < valueBytes.count && valueBytes[index] >= UInt8(ascii: "0") && valueBytes[index] <= UInt8(ascii: "9")
            }
            // getnum: one or two digits (fixed forces two).
            func number(fixed: Bool) -> Int? {
                guard isDigit(valueIndex) else { return nil }
                if !isDigit(valueIndex + 1) {
                    if fixed { return nil }
                    valueIndex += 1
                    return Int(valueBytes[valueIndex - 1] - UInt8(ascii: "0"))
                }
                let result = Int(valueBytes[valueIndex] - UInt8(ascii: "0")) * 10 + Int(valueBytes[valueIndex + 1] - UInt8(ascii: "0"))
                valueIndex += 2
                return result
            }
            func lookup(_ table: [String]) -> Int? {
                for (position, name) in table.enumerated() {
                    let nameBytes = Array(name.utf8)
                    guard valueIndex + nameBytes.count <= valueBytes.count else { continue }
                    var matches = true
                    for offset in 0..<nameBytes.count {
                        let left = valueBytes[valueIndex + offset]
                        let right = nameBytes[offset]
                        if left != right && (left | 0x20 != right | 0x20 || left | 0x20 < UInt8(ascii: "a") || left | 0x20 > UInt8(ascii: "z")) {
                            matches = false
                            break
                        }
                    }
                    if matches {
                        valueIndex += nameBytes.count
                        return position
                    }
                }
                return nil
            }
            func nanoseconds(count: Int) -> Int? {
                // parseNanoseconds: separator then digits, scaled to nine places.
                guard valueIndex < valueBytes.count,
                      valueBytes[valueIndex] == UInt8(ascii: ".") || valueBytes[valueIndex] == UInt8(ascii: ",") else { return nil }
                let usable = min(count, 10)
                var result = 0
                for offset in 1..<usable {
                    guard isDigit(valueIndex + offset) else { return nil }
                    result = result * 10 + Int(valueBytes[valueIndex + offset] - UInt8(ascii: "0"))
                }
                for _ in 0..<(10 - usable) { result *= 10 }
                valueIndex += count
                return result
            }

            while true {
                let (prefixEnd, element, suffixStart) = nextElement(layoutBytes, from: layoutIndex)
                // Skip the literal prefix, treating runs of spaces as equivalent.
                var prefix = layoutIndex
                while prefix < prefixEnd {
                    if layoutBytes[prefix] == UInt8(ascii: " ") {
                        if valueIndex < valueBytes.count && valueBytes[valueIndex] != UInt8(ascii: " ") {
                            return failure(text(layoutBytes, layoutIndex..<prefixEnd), text(valueBytes, valueIndex..<valueBytes.count))
                        }
                        while prefix < prefixEnd && layoutBytes[prefix] == UInt8(ascii: " ") { prefix += 1 }
                        while valueIndex < valueBytes.count && valueBytes[valueIndex] == UInt8(ascii: " ") { valueIndex += 1 }
                        continue
                    }
                    if valueIndex >= valueBytes.count || valueBytes[valueIndex] != layoutBytes[prefix] {
                        return failure(text(layoutBytes, layoutIndex..<prefixEnd), text(valueBytes, valueIndex..<valueBytes.count))
                    }
                    prefix += 1
                    valueIndex += 1
                }
                guard let element else {
                    if valueIndex < valueBytes.count {
                        return failure("", "", ": extra text: \(goQuote(text(valueBytes, valueIndex..<valueBytes.count)))")
                    }
                    break
                }
                let elementText = text(layoutBytes, prefixEnd..<suffixStart)
                layoutIndex = suffixStart
                let hold = valueIndex
                var bad = false
                var rangeError = ""
                switch element {
                case .year:
                    if valueIndex + 2 > valueBytes.count || !isDigit(valueIndex) || !isDigit(valueIndex + 1) {
                        bad = true
                    } else {
                        year = Int(valueBytes[valueIndex] - 48) * 10 + Int(valueBytes[valueIndex + 1] - 48)
                        year += year >= 69 ? 1900 : 2000
                        valueIndex += 2
                    }
                case .longYear:
                    if valueIndex + 4 > valueBytes.count || !(0..<4).allSatisfy({ isDigit(valueIndex + $0) }) {
                        bad = true
                    } else {
                        year = (0..<4).reduce(0) { $0 * 10 + Int(valueBytes[valueIndex + $1] - 48) }
                        valueIndex += 4
                    }
                case .month:
                    if let found = lookup(shortMonthNames) { month = found + 1 } else { bad = true }
                case .longMonth:
                    if let found = lookup(longMonthNames) { month = found + 1 } else { bad = true }
                case .numMonth, .zeroMonth:
                    if let found = number(fixed: element == .zeroMonth) {
                        month = found
                        if month <= 0 || month > 12 { rangeError = "month" }
                    } else {
                        bad = true
                    }
                case .weekDay:
                    if lookup(shortDayNames) == nil { bad = true }
                case .longWeekDay:
                    if lookup(longDayNames) == nil { bad = true }
                case .day, .underDay, .zeroDay:
                    if element == .underDay && valueIndex < valueBytes.count && valueBytes[valueIndex] == UInt8(ascii: " ") { valueIndex += 1 }
                    if let found = number(fixed: element == .zeroDay) { day = found } else { bad = true }
                case .underYearDay, .zeroYearDay:
                    for _ in 0..<2 where element == .underYearDay && valueIndex < valueBytes.count && valueBytes[valueIndex] == UInt8(ascii: " ") {
                        valueIndex += 1
                    }
                    var digits = 0
                    var found = 0
                    while digits < 3 && isDigit(valueIndex + digits) {
                        found = found * 10 + Int(valueBytes[valueIndex + digits] - 48)
                        digits += 1
                    }
                    if digits == 0 || (element == .zeroYearDay && digits != 3) {
                        bad = true
                    } else {
                        yearDay = found
                        valueIndex += digits
                    }
                case .hour:
                    if let found = number(fixed: false) {
                        hour = found
                        if hour >= 24 { rangeError = "hour" }
                    } else {
                        bad = true
                    }
                case .hour12, .zeroHour12:
                    if let found = number(fixed: element == .zeroHour12) {
                        hour = found
                        if hour > 12 { rangeError = "hour" }
                    } else {
                        bad = true
                    }
                case .minute, .zeroMinute:
                    if let found = number(fixed: element == .zeroMinute) {
                        minute = found
                        if minute >= 60 { rangeError = "minute" }
                    } else {
                        bad = true
                    }
                case .second, .zeroSecond:
                    guard let found = number(fixed: element == .zeroSecond) else {
                        bad = true
                        break
                    }
                    second = found
                    if second >= 60 {
                        rangeError = "second"
                        break
                    }
                    // A fractional second in the value that the layout does not mention.
                    if valueIndex + 1 < valueBytes.count,
                       valueBytes[valueIndex] == UInt8(ascii: ".") || valueBytes[valueIndex] == UInt8(ascii: ","),
                       isDigit(valueIndex + 1) {
                        if case .fraction? = nextElement(layoutBytes, from: layoutIndex).element { break }
                        var count = 2
                        while isDigit(valueIndex + count) { count += 1 }
                        if let fraction = nanoseconds(count: count) { nanosecond = fraction } else { bad = true }
                    }
                case .pm, .lowerPM:
                    guard valueIndex + 2 <= valueBytes.count else {
                        bad = true
                        break
                    }
                    let marker = text(valueBytes, valueIndex..<(valueIndex + 2))
                    valueIndex += 2
                    let (pmText, amText) = element == .pm ? ("PM", "AM") : ("pm", "am")
                    if marker == pmText { pmSet = true } else if marker == amText { amSet = true } else { bad = true }
                case .iso8601, .iso8601Short, .iso8601Colon, .iso8601Seconds, .iso8601ColonSeconds,
                    .numericZone, .numericShortZone, .numericColonZone, .numericSecondsZone, .numericColonSecondsZone:
                    let isISO = [Element.iso8601, .iso8601Short, .iso8601Colon, .iso8601Seconds, .iso8601ColonSeconds].contains(element)
                    if isISO && valueIndex < valueBytes.count && valueBytes[valueIndex] == UInt8(ascii: "Z") {
                        valueIndex += 1
                        explicitZone = .utc
                        break
                    }
                    let remaining = valueBytes.count - valueIndex
                    var fields: (sign: UInt8, hour: Range<Int>, minute: Range<Int>?, second: Range<Int>?) = (0, 0..<0, nil, nil)
                    let start = valueIndex
                    switch element {
                    case .iso8601Colon, .numericColonZone:
                        guard remaining >= 6, valueBytes[start + 3] == UInt8(ascii: ":") else { bad = true; break }
                        fields = (valueBytes[start], (start + 1)..<(start + 3), (start + 4)..<(start + 6), nil)
                        valueIndex += 6
                    case .iso8601Short, .numericShortZone:
                        guard remaining >= 3 else { bad = true; break }
                        fields = (valueBytes[start], (start + 1)..<(start + 3), nil, nil)
                        valueIndex += 3
                    case .iso8601ColonSeconds, .numericColonSecondsZone:
                        guard remaining >= 9, valueBytes[start + 3] == UInt8(ascii: ":"), valueBytes[start + 6] == UInt8(ascii: ":") else {
                            bad = true
                            break
                        }
                        fields = (valueBytes[start], (start + 1)..<(start + 3), (start + 4)..<(start + 6), (start + 7)..<(start + 9))
                        valueIndex += 9
                    case .iso8601Seconds, .numericSecondsZone:
                        guard remaining >= 7 else { bad = true; break }
                        fields = (valueBytes[start], (start + 1)..<(start + 3), (start + 3)..<(start + 5), (start + 5)..<(start + 7))
                        valueIndex += 7
                    default:
                        guard remaining >= 5 else { bad = true; break }
                        fields = (valueBytes[start], (start + 1)..<(start + 3), (start + 3)..<(start + 5), nil)
                        valueIndex += 5
                    }
                    if bad { break }
                    func twoDigits(_ range: Range<Int>?) -> Int? {
                        guard let range else { return 0 }
                        let first = valueBytes[range.lowerBound], second = valueBytes[range.lowerBound + 1]
                        guard first >= 48 && first <= 57 && second >= 48 && second <= 57 else { return nil }
                        return Int(first - 48) * 10 + Int(second - 48)
                    }
                    guard let hours = twoDigits(fields.hour), let minutes = twoDigits(fields.minute),
                          let seconds = twoDigits(fields.second) else {
                        bad = true
                        break
                    }
                    if hours > 24 { rangeError = "time zone offset hour" }
                    if minutes > 60 { rangeError = "time zone offset minute" }
                    if seconds > 60 { rangeError = "time zone offset second" }
                    var offset = (hours * 60 + minutes) * 60 + seconds
                    switch fields.sign {
                    case UInt8(ascii: "+"): break
                    case UInt8(ascii: "-"): offset = -offset
                    default: bad = true
                    }
                    zoneOffset = offset
                case .zoneName:
                    if valueIndex + 3 <= valueBytes.count && text(valueBytes, valueIndex..<(valueIndex + 3)) == "UTC" {
                        explicitZone = .utc
                        valueIndex += 3
                        break
                    }
                    if let length = zoneAbbreviationLength(valueBytes, from: valueIndex) {
                        zoneName = text(valueBytes, valueIndex..<(valueIndex + length))
                        valueIndex += length
                    } else {
                        bad = true
                    }
                case .fraction(let digits, let trimZeros, _):
                    if !trimZeros {
                        let count = 1 + digits
                        guard valueIndex + count <= valueBytes.count, let fraction = nanoseconds(count: count) else {
                            bad = true
                            break
                        }
                        nanosecond = fraction
                    } else {
                        guard valueIndex + 2 <= valueBytes.count,
                              valueBytes[valueIndex] == UInt8(ascii: ".") || valueBytes[valueIndex] == UInt8(ascii: ","),
                              isDigit(valueIndex + 1) else { break }
                        var count = 1
                        while isDigit(valueIndex + count) { count += 1 }
                        if let fraction = nanoseconds(count: count) { nanosecond = fraction } else { bad = true }
                    }
                }
                if !rangeError.isEmpty {
                    return failure(elementText, text(valueBytes, valueIndex..<valueBytes.count), ": \(rangeError) out of range")
                }
                if bad { return failure(elementText, text(valueBytes, hold..<valueBytes.count)) }
            }
            if pmSet && hour < 12 {
                hour += 12
            } else if amSet && hour == 12 {
                hour = 0
            }
            if yearDay >= 0 {
                var dayOfYear = yearDay
                var derivedMonth = 0
                var derivedDay = 0
                if GoCivil.isLeap(year) {
                    if dayOfYear == 31 + 29 {
                        derivedMonth = 2
                        derivedDay = 29
                    } else if dayOfYear > 31 + 29 {
                        dayOfYear -= 1
                    }
                }
                if dayOfYear < 1 || dayOfYear > 365 { return failure("", "", ": day-of-year out of range") }
                if derivedMonth == 0 {
                    let daysBefore = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365]
                    derivedMonth = (dayOfYear - 1) / 31 + 1
                    if daysBefore[derivedMonth] < dayOfYear { derivedMonth += 1 }
                    derivedDay = dayOfYear - daysBefore[derivedMonth - 1]
                }
                if month >= 0 && month != derivedMonth { return failure("", "", ": day-of-year does not match month") }
                month = derivedMonth
                if day >= 0 && day != derivedDay { return failure("", "", ": day-of-year does not match day") }
                day = derivedDay
            } else {
                if month < 0 { month = 1 }
                if day < 0 { day = 1 }
            }
            if day < 1 || day > GoCivil.daysIn(month: month, year: year) { return failure("", "", ": day out of range") }

            let localSeconds = GoCivil.days(year: year, month: month, day: day) * 86_400
                + Int64(hour * 3600 + minute * 60 + second)
            if let explicitZone {
                return .success(GoTime(unixSeconds: localSeconds - Int64(explicitZone.offsetSeconds), nanoseconds: Int32(nanosecond),
                                       zone: explicitZone))
            }
            if let zoneOffset {
                // An offset equal to the location's own (UTC or Local) keeps that location; any other becomes a fixed zone.
                let keepsLocation = zoneOffset == location.offsetSeconds && (zoneName.isEmpty || zoneName == location.name)
                let zone = keepsLocation ? location : GoZone(name: zoneName, offsetSeconds: zoneOffset)
                return .success(GoTime(unixSeconds: localSeconds - Int64(zoneOffset), nanoseconds: Int32(nanosecond), zone: zone))
            }
            if !zoneName.isEmpty {
                if zoneName == location.name {
                    return .success(GoTime(unixSeconds: localSeconds - Int64(location.offsetSeconds), nanoseconds: Int32(nanosecond),
                                           zone: location))
                }
                // An unknown abbreviation: the clock reading is taken as UTC and shown in a made-up zone
                // (offset zero, or N hours for GMT±N), as Go does.
                var offset = 0
                if zoneName.utf8.count > 3 && zoneName.hasPrefix("GMT"), let hours = Int(zoneName.dropFirst(3)) { offset = hours * 3600 }
                return .success(GoTime(unixSeconds: localSeconds, nanoseconds: Int32(nanosecond),
                                       zone: GoZone(name: zoneName, offsetSeconds: offset)))
            }
            return .success(GoTime(unixSeconds: localSeconds - Int64(location.offsetSeconds), nanoseconds: Int32(nanosecond), zone: location))
        }

        /// time's parseTimeZone: the length of a zone abbreviation at `start`, or nil.
        private static func zoneAbbreviationLength(_ value: [UInt8], from start: Int) -> Int? {
            let remaining = value.count - start
            guard remaining >= 3 else { return nil }
            func text(_ length: Int) -> String { String(decoding: value[start..<(start + length)], as: UTF8.self) }
            if remaining >= 4 && (text(4) == "ChST" || text(4) == "MeST") { return 4 }
            if text(3) == "GMT" { return 3 + signedOffsetLength(value, from: start + 3) }
            if value[start] == UInt8(ascii: "+") || value[start] == UInt8(ascii: "-") {
                let length = signedOffsetLength(value, from: start)
                return length > 0 ? length : nil
            }
            var upper = 0
            while upper < 6 && start + upper < value.count && value[start + upper] >= UInt8(ascii: "A") && value[start + upper] <= UInt8(ascii: "Z") {
                upper += 1
            }
            switch upper {
            case 3: return 3
            case 4: return value[start + 3] == UInt8(ascii: "T") || text(4) == "WITA" ? 4 : nil
            case 5: return value[start + 4] == UInt8(ascii: "T") ? 5 : nil
            default: return nil
            }
        }

        /// time's parseSignedOffset: "+03" or "-4" in -23...+23, or 0.
        private static func signedOffsetLength(_ value: [UInt8], from start: Int) -> Int {
            guard start < value.count, value[start] == UInt8(ascii: "+") || value[start] == UInt8(ascii: "-") else { return 0 }
            var index = start + 1
            var number = 0
            while index < value.count && value[index] >= UInt8(ascii: "0") && value[index] <= UInt8(ascii: "9") {
                number = number * 10 + Int(value[index] - 48)
                if number > 1_000_000 { return 0 }
                index += 1
            }
            if index == start + 1 || number > 23 { return 0 }
            return index - start
        }

        /// time's quote: ASCII printable kept, other bytes as \x escapes.
        static func goQuote(_ text: String) -> String {
            var out = "\""
            for byte in text.utf8 {
                if byte >= 0x80 || byte < 0x20 {
                    out += "\\x"
                    GoText.appendHex(UInt32(byte), digits: 2, to: &out)
                } else {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out += "\\" }
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                }
            }
            out += "\""
            return out
        }

        // MARK: - Durations

        /// time.ParseDuration, in nanoseconds; the error text is Go's.
        static func parseDuration(_ text: String) -> Result<Int64, LogQLTemplateError> {
            let original = text
            var bytes = Array(text.utf8)[...]
            let invalid = LogQLTemplateError("time: invalid duration \(goQuote(original))")
            var negative = false
            if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                negative = first == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            if bytes.elementsEqual("0".utf8) { return .success(0) }
            if bytes.isEmpty { return .failure(invalid) }
            var total: UInt64 = 0
            let limit: UInt64 = 1 << 63
            while !bytes.isEmpty {
                guard let first = bytes.first, first == UInt8(ascii: ".") || (first >= 48 && first <= 57) else { return .failure(invalid) }
                // Integer part.
                var whole: UInt64 = 0
                var consumedWhole = false
                while let byte = bytes.first, byte >= 48 && byte <= 57 {
                    if whole > limit / 10 { return .failure(invalid) }
                    whole = whole * 10 + UInt64(byte - 48)
                    if whole > limit { return .failure(invalid) }
                    consumedWhole = true
                    bytes = bytes.dropFirst()
                }
                // Fraction part: digits past 63 bits only stop adding precision.
                var fraction: UInt64 = 0
                var scale: Double = 1
                var consumedFraction = false
                if bytes.first == UInt8(ascii: ".") {
                    bytes = bytes.dropFirst()
                    var overflow = false
                    while let byte = bytes.first, byte >= 48 && byte <= 57 {
                        consumedFraction = true
                        bytes = bytes.dropFirst()
                        if overflow { continue }
                        if fraction > (limit - 1) / 10 {
                            overflow = true
                            continue
                        }
                        let next = fraction * 10 + UInt64(byte - 48)
                        if next > limit {
                            overflow = true
                            continue
                        }
                        fraction = next
                        scale *= 10
                    }
                }
                if !consumedWhole && !consumedFraction { return .failure(invalid) }
                var unitLength = 0
                for byte in bytes {
                    if byte == UInt8(ascii: ".") || (byte >= 48 && byte <= 57) { break }
                    unitLength += 1
                }
                if unitLength == 0 { return .failure(LogQLTemplateError("time: missing unit in duration \(goQuote(original))")) }
                let unitText = String(decoding: bytes.prefix(unitLength), as: UTF8.self)
                bytes = bytes.dropFirst(unitLength)
                let unit: UInt64
                switch unitText {
                case "ns": unit = 1
                case "us", "\u{00B5}s", "\u{03BC}s": unit = 1000
                case "ms": unit = 1_000_000
                case "s": unit = 1_000_000_000
                case "m": unit = 60_000_000_000
                case "h": unit = 3_600_000_000_000
                default:
                    return .failure(LogQLTemplateError("time: unknown unit \(goQuote(unitText)) in duration \(goQuote(original))"))
                }
                if whole > limit / unit { return .failure(invalid) }
                whole *= unit
                if fraction > 0 {
                    whole += UInt64(Double(fraction) * (Double(unit) / scale))
                    if whole > limit { return .failure(invalid) }
                }
                total += whole
                if total > limit { return .failure(invalid) }
            }
            if negative { return .success(total == limit ? Int64.min : -Int64(total)) }
            if total > limit - 1 { return .failure(invalid) }
            return .success(Int64(total))
        }
    }
}
