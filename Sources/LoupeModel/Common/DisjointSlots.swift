/// Slots that concurrent iterations fill, each its own: no two touch the same element, and the
/// buffer outlives them (`DispatchQueue.concurrentPerform` returns only when all are done). Lets
/// a synchronous engine spread independent work over the cores without locks.
public struct DisjointSlots<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>

    public init(_ buffer: UnsafeMutableBufferPointer<Element>) {
        self.buffer = buffer
    }

    public subscript(index: Int) -> Element {
        get { buffer[index] }
        nonmutating set { buffer[index] = newValue }
    }
}
