import Foundation
import Testing

@testable import LoupeAgent

/// Trees are measured as `du` and the container runtimes measure them.
@Suite struct DiskUsageTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "disk-usage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func allocated(_ path: String) -> Int64 {
        var status = stat()
        lstat(path, &status)
        return Int64(status.st_blocks) * 512
    }

    @Test func countsEveryEntryOnceWithTheTopDirectory() throws {
        let top = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: top) }
        try FileManager.default.createDirectory(atPath: top + "/a/b", withIntermediateDirectories: true)
        try Data(repeating: 7, count: 50_000).write(to: URL(fileURLWithPath: top + "/a/b/data"))
        try Data(repeating: 1, count: 5_000).write(to: URL(fileURLWithPath: top + "/shared"))
        try FileManager.default.linkItem(atPath: top + "/shared", toPath: top + "/a/shared-too")
        try FileManager.default.createSymbolicLink(atPath: top + "/a/link", withDestinationPath: "/usr")
        // A name that is not UTF-8 is counted too.
        let oddName: [CChar] = Array((top + "/").utf8CString.dropLast()) + [CChar(bitPattern: 0xFF), CChar(bitPattern: 0xFE), 0]
        let descriptor = open(oddName, O_CREAT | O_WRONLY, 0o644)
        #expect(descriptor >= 0)
        _ = [UInt8](repeating: 3, count: 9_000).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        var oddStatus = stat()
        #expect(lstat(oddName, &oddStatus) == 0)

        let expected = [top, top + "/a", top + "/a/b", top + "/a/b/data", top + "/shared", top + "/a/link"].map(allocated).reduce(0, +)
            + Int64(oddStatus.st_blocks) * 512
        let usage = try #require(DiskUsage.of(top))
        #expect(usage.bytes == expected)
        #expect(usage.inodes == 7)
        #expect(usage.bytes >= 50_000 + 5_000 + 9_000)
    }

    @Test func aFileIsItsOwnTreeAndAMissingPathIsNone() throws {
        let top = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: top) }
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: top + "/file"))
        #expect(DiskUsage.of(top + "/file") == DiskUsage(bytes: allocated(top + "/file"), inodes: 1))
        #expect(DiskUsage.of(top + "/missing") == nil)
    }
}
