/// The kernel's accounting files as text in, figures out: /proc/stat, /proc/meminfo,
/// /proc/diskstats, /proc/net/dev, /proc/mounts, /proc/<pid>/mountinfo and cgroup v2's cpu.stat, memory.current and
/// io.stat. Lines that do not parse are skipped (a kernel adds columns, never removes them).
public enum ProcFiles {
    /// Seconds per CPU and state from `/proc/stat` (USER_HZ ticks: 100 per second on Linux).
    public static func cpuTimes(stat text: String, ticksPerSecond: Double = 100) -> [(cpu: String, state: String, seconds: Double)] {
        let states = ["user", "nice", "system", "idle", "wait", "interrupt", "softirq", "steal"]
        var result: [(String, String, Double)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") && !line.hasPrefix("cpu ") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 9 else { continue }
            let cpu = String(fields[0])
            for (index, state) in states.enumerated() {
                guard let ticks = Double(fields[index + 1]) else { continue }
                result.append((cpu, state, ticks / ticksPerSecond))
            }
        }
        return result
    }

    /// Bytes by state (`used`, `free`, `buffered`, `cached`, as the hostmetrics receiver splits
    /// them) from `/proc/meminfo`.
    public static func memory(meminfo text: String) -> [(state: String, bytes: Int64)] {
        var values: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].hasSuffix(":"), let number = Int64(parts[1]) else { continue }
            let unit: Int64 = parts.count >= 3 && parts[2] == "kB" ? 1024 : 1
            values[String(parts[0].dropLast())] = number * unit
        }
        guard let total = values["MemTotal"], let free = values["MemFree"] else { return [] }
        let buffers = values["Buffers"] ?? 0
        let cached = (values["Cached"] ?? 0) + (values["SReclaimable"] ?? 0)
        return [("used", max(0, total - free - buffers - cached)), ("free", free), ("buffered", buffers), ("cached", cached)]
    }

    /// Bytes read and written per block device from `/proc/diskstats` (sectors of 512 bytes);
    /// loop and ram devices, which hold no data of their own, are left out.
    public static func diskIO(diskstats text: String) -> [(device: String, read: Int64, written: Int64)] {
        var result: [(String, Int64, Int64)] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, let readSectors = Int64(fields[5]), let writtenSectors = Int64(fields[9]) else { continue }
            let device = String(fields[2])
            if device.hasPrefix("loop") || device.hasPrefix("ram") { continue }
            result.append((device, readSectors * 512, writtenSectors * 512))
        }
        return result
    }

    /// Bytes received and transmitted per interface from `/proc/net/dev` (the loopback left out).
    public static func networkIO(netdev text: String) -> [(device: String, received: Int64, transmitted: Int64)] {
        var result: [(String, Int64, Int64)] = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let device = line[..<colon].trimmingSpaces
            let fields = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
            guard !device.isEmpty, device != "lo", fields.count >= 9, let received = Int64(fields[0]), let transmitted = Int64(fields[8]) else { continue }
            result.append((device, received, transmitted))
        }
        return result
    }

    /// Mounted filesystems holding data (pseudo filesystems left out), from `/proc/mounts`.
    public static func mounts(_ text: String) -> [(device: String, mountpoint: String, type: String)] {
        let pseudo: Set<String> = [
            "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2", "mqueue", "debugfs", "tracefs", "securityfs",
            "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "nsfs", "overlay", "squashfs", "rpc_pipefs",
        ]
        var result: [(String, String, String)] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, !pseudo.contains(String(fields[2])) else { continue }
            // Mount points escape spaces and tabs as octal (`\040`).
            result.append((String(fields[0]), String(fields[1]).replacingOctalEscapes, String(fields[2])))
        }
        return result
    }

    /// The writable layer of a container: the `upperdir` of the overlay mounted at `/` in a
    /// process's `/proc/<pid>/mountinfo` (the last such mount, which hides those beneath it), as a
    /// path of the mount namespace that created it (the node's). Nil for a root that is not an
    /// overlay (a process of the node itself, a runtime without one).
    public static func rootOverlayUpperDirectory(mountinfo text: String) -> String? {
        var upper: String?
        for line in text.split(separator: "\n") {
            // `id parent major:minor root mountpoint options [optional…] - type source superoptions`
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, fields[4] == "/", let separator = fields.firstIndex(of: "-"), separator >= 6,
                fields.count > separator + 3
            else { continue }
            guard fields[separator + 1] == "overlay" else {
                upper = nil
                continue
            }
            upper = nil
            for option in fields[separator + 3].split(separator: ",") where option.hasPrefix("upperdir=") {
                upper = String(option.dropFirst(9)).replacingOctalEscapes
            }
        }
        return upper
    }

    /// CPU seconds from a cgroup v2 `cpu.stat` (`usage_usec`).
    public static func cgroupCPUSeconds(cpuStat text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("usage_usec ") {
            return Double(line.dropFirst("usage_usec ".count)).map { $0 / 1_000_000 }
        }
        return nil
    }

    /// Bytes read and written over all devices from a cgroup v2 `io.stat`.
    public static func cgroupIO(ioStat text: String) -> (read: Int64, written: Int64) {
        var read: Int64 = 0
        var written: Int64 = 0
        for line in text.split(separator: "\n") {
            for field in line.split(separator: " ") {
                if field.hasPrefix("rbytes="), let value = Int64(field.dropFirst(7)) { read += value }
                if field.hasPrefix("wbytes="), let value = Int64(field.dropFirst(7)) { written += value }
            }
        }
        return (read, written)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    /// `\040` and friends as the characters they stand for.
    fileprivate var replacingOctalEscapes: String {
        guard contains("\\") else { return self }
        var out = ""
        var scalars = Array(unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            if scalar == "\\", scalars.count >= 3, let code = UInt8(String(String.UnicodeScalarView(scalars.prefix(3))), radix: 8) {
                out.unicodeScalars.append(Unicode.Scalar(code))
                scalars = scalars.dropFirst(3)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
