/// Distinct values numbered in order of first appearance: the tables block indexes write once and
/// refer to by number.
struct InternTable<Element: Hashable> {
    private(set) var elements: [Element] = []
    private var numbers: [Element: Int] = [:]

    /// The value's number, adding it if it is new.
    mutating func index(of element: Element) -> Int {
        if let number = numbers[element] { return number }
        numbers[element] = elements.count
        elements.append(element)
        return elements.count - 1
    }
}
