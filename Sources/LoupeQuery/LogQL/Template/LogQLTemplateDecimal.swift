// Sprig's float functions (addf, subf, mulf, divf) compute in decimal (shopspring/decimal), not in
// binary floating point: each float64 argument becomes its shortest decimal, the operation is exact
// (division rounds half away from zero to 16 places), and the result is rounded once to float64.
// So addf 0.1 0.2 is 0.3, not 0.30000000000000004. A 128-bit coefficient covers what these functions
// meet; beyond it the least significant digits are rounded away (far below float64's precision).

extension LogQLTemplate {
    struct GoDecimal {
        var coefficient: Int128
        var exponent: Int

        static let zero = GoDecimal(coefficient: 0, exponent: 0)

        /// decimal.NewFromFloat, which panics (an error for the template) on NaN and infinities.
        static func fromFloat(_ value: Double) throws(FunctionFailure) -> GoDecimal {
            if value.isNaN { throw FunctionFailure("Cannot create a Decimal from NaN") }
            if value.isInfinite { throw FunctionFailure("Cannot create a Decimal from \(value < 0 ? "-Inf" : "+Inf")") }
            if value == 0 { return .zero }
            let digits = GoNumbers.shortestDigits(value)
            var coefficient: Int128 = 0
            for digit in digits.digits { coefficient = coefficient * 10 + Int128(digit - UInt8(ascii: "0")) }
            if value < 0 { coefficient = -coefficient }
            return GoDecimal(coefficient: coefficient, exponent: digits.decimalPoint - digits.count)
        }

        /// Decimal.Float64: the nearest float64.
        var doubleValue: Double {
            if coefficient == 0 { return 0 }
            return Double("\(coefficient)e\(exponent)") ?? (coefficient < 0 ? -.infinity : .infinity)
        }

        /// Drops the last digit, rounding half away from zero.
        private func droppingDigit() -> GoDecimal {
            let (quotient, remainder) = coefficient.quotientAndRemainder(dividingBy: 10)
            var rounded = quotient
            if remainder >= 5 { rounded += 1 } else if remainder <= -5 { rounded -= 1 }
            return GoDecimal(coefficient: rounded, exponent: exponent + 1)
        }

        private static func aligned(_ first: GoDecimal, _ second: GoDecimal) -> (Int128, Int128, Int) {
            var high = first.exponent >= second.exponent ? first : second
            var low = first.exponent >= second.exponent ? second : first
            let swapped = first.exponent < second.exponent
            while high.exponent > low.exponent {
                let (scaled, overflow) = high.coefficient.multipliedReportingOverflow(by: 10)
                if overflow {
                    low = low.droppingDigit()
                } else {
                    high = GoDecimal(coefficient: scaled, exponent: high.exponent - 1)
                }
            }
            return swapped ? (low.coefficient, high.coefficient, high.exponent) : (high.coefficient, low.coefficient, high.exponent)
        }

        func adding(_ other: GoDecimal) -> GoDecimal {
            var (left, right, exponent) = GoDecimal.aligned(self, other)
            while true {
                let (sum, overflow) = left.addingReportingOverflow(right)
                if !overflow { return GoDecimal(coefficient: sum, exponent: exponent) }
                left = GoDecimal(coefficient: left, exponent: exponent).droppingDigit().coefficient
                right = GoDecimal(coefficient: right, exponent: exponent).droppingDigit().coefficient
                exponent += 1
            }
        }

        func subtracting(_ other: GoDecimal) -> GoDecimal {
            adding(GoDecimal(coefficient: 0 &- other.coefficient, exponent: other.exponent))
        }

        func multiplying(_ other: GoDecimal) -> GoDecimal {
            var left = self
            var right = other
            while true {
                let (product, overflow) = left.coefficient.multipliedReportingOverflow(by: right.coefficient)
                if !overflow { return GoDecimal(coefficient: product, exponent: left.exponent + right.exponent) }
                if left.coefficient.magnitude >= right.coefficient.magnitude { left = left.droppingDigit() } else { right = right.droppingDigit() }
            }
        }

        /// Decimal.Div: DivRound to 16 decimal places, half away from zero; division by zero is an error.
        /// The quotient keeps at most 38 significant digits: when 16 places would need more, the last ones are
        /// rounded away (they lie far below float64's precision).
        func dividing(by other: GoDecimal) throws(FunctionFailure) -> GoDecimal {
            if other.coefficient == 0 { throw FunctionFailure("decimal division by 0") }
            let precision = 16
            let negative = (coefficient < 0) != (other.coefficient < 0)
            let limit = UInt128(Int128.max)
            var numerator = UInt128(coefficient.magnitude)
            var denominator = UInt128(other.coefficient.magnitude)
            var shift = exponent - other.exponent + precision
            // Keep ten times the divisor representable, so remainders can be scaled.
            while denominator > UInt128.max / 10 {
                denominator = (denominator + 5) / 10
                numerator = (numerator + 5) / 10
            }
            func signed(_ quotient: UInt128, exponent: Int) -> GoDecimal {
                let value = Int128(quotient)
                return GoDecimal(coefficient: negative ? -value : value, exponent: exponent)
            }
            if shift < 0 {
                var scaledDenominator = denominator
                while shift < 0 {
                    let (scaled, overflow) = scaledDenominator.multipliedReportingOverflow(by: 10)
                    if overflow {
                        // The quotient is below one unit of the 16th place: it rounds to 0 or 1 unit.
                        let estimate = Double(numerator) / Double(scaledDenominator) * GoDecimal.powerOfTen(shift)
                        return signed(estimate >= 0.5 ? 1 : 0, exponent: -precision)
                    }
                    scaledDenominator = scaled
                    shift += 1
                }
                denominator = scaledDenominator
            }
            var quotient = numerator / denominator
            var remainder = numerator % denominator
            var placesLeft = shift
            while placesLeft > 0 && quotient <= (limit - 9) / 10 {
                let scaledRemainder = remainder * 10
                quotient = quotient * 10 + scaledRemainder / denominator
                remainder = scaledRemainder % denominator
                placesLeft -= 1
            }
            var resultExponent = -precision + placesLeft
            // Round half away from zero: compare twice the remainder with the divisor.
            let (doubled, overflow) = remainder.multipliedReportingOverflow(by: 2)
            if overflow || doubled >= denominator {
                if quotient == limit {
                    quotient = (quotient + 5) / 10
                    resultExponent += 1
                }
                quotient += 1
            }
            return signed(quotient, exponent: resultExponent)
        }

        /// 10^exponent for the small negative exponents of a quotient estimate.
        private static func powerOfTen(_ exponent: Int) -> Double {
            var result = 1.0
            for _ in 0..<min(abs(exponent), 400) { result *= 10 }
            return exponent < 0 ? 1 / result : result
        }
    }
}
