import Testing

@testable import LoupeCollect

/// The kernel's accounting files read as the hostmetrics receiver reads them.
@Suite struct ProcFilesTests {
    @Test func cpuTimesPerCPUAndState() {
        let stat = "cpu  10 0 5 100 1 0 2 0 0 0\ncpu0 200 1 300 4000 50 0 6 7 0 0\ncpu1 100 0 100 100 0 0 0 0\nintr 5\nbtime 1700000000\n"
        let times = ProcFiles.cpuTimes(stat: stat)
        #expect(times.count == 16, "two CPUs, eight states; the total line is left out")
        #expect(times.first { $0.cpu == "cpu0" && $0.state == "user" }?.seconds == 2)
        #expect(times.first { $0.cpu == "cpu0" && $0.state == "steal" }?.seconds == 0.07)
        #expect(times.first { $0.cpu == "cpu1" && $0.state == "idle" }?.seconds == 1)
    }

    @Test func memoryStates() {
        let meminfo = "MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 100 kB\nCached: 300 kB\nSReclaimable: 50 kB\nHugePages_Total: 0\n"
        let states: [(state: String, bytes: Int64)] = ProcFiles.memory(meminfo: meminfo)
        let expected: [(String, Int64)] = [("used", 358_400), ("free", 204_800), ("buffered", 102_400), ("cached", 358_400)]
        #expect(states.map(\.state) == expected.map(\.0))
        #expect(states.map(\.bytes) == expected.map(\.1))
        #expect(ProcFiles.memory(meminfo: "garbage").isEmpty)
    }

    @Test func disksNetworksMountsAndCgroups() {
        let disks = ProcFiles.diskIO(diskstats: "   7 0 loop0 1 2 3 4 5 6 7 8 9 10 11\n 253 0 vda 10 0 100 5 20 0 300 7 0 0 0\nshort line\n")
        #expect(disks.count == 1 && disks[0].device == "vda" && disks[0].read == 100 * 512 && disks[0].written == 300 * 512)
        let netdev = "Inter-| Receive | Transmit\n face |bytes packets\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
        let interfaces = ProcFiles.networkIO(netdev: netdev)
        #expect(interfaces.count == 1 && interfaces[0].device == "eth0" && interfaces[0].received == 1000 && interfaces[0].transmitted == 2000)
        let mounts = ProcFiles.mounts("proc /proc proc rw 0 0\n/dev/vda1 / ext4 rw 0 0\n/dev/vdb /mnt/my\\040data xfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n")
        #expect(mounts.map(\.mountpoint) == ["/", "/mnt/my data"] && mounts.map(\.type) == ["ext4", "xfs"])
        #expect(ProcFiles.cgroupCPUSeconds(cpuStat: "usage_usec 2500000\nuser_usec 2000000\n") == 2.5)
        #expect(ProcFiles.cgroupCPUSeconds(cpuStat: "nothing") == nil)
        let io = ProcFiles.cgroupIO(ioStat: "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n253:0 rbytes=5 wbytes=6\n")
        #expect(io.read == 105 && io.written == 206)
    }

    @Test func theWritableLayerIsTheUpperDirectoryOfTheOverlayAtRoot() {
        let snapshots = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
        let container = """
            1201 1100 0:345 / / rw,relatime master:12 - overlay overlay rw,lowerdir=\(snapshots)/3/fs:\(snapshots)/2/fs,upperdir=\(snapshots)/45/fs,workdir=\(snapshots)/45/work
            1202 1201 0:350 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
            1203 1201 253:1 /var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/cache /cache rw,relatime - ext4 /dev/vda1 rw

            """
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: container) == snapshots + "/45/fs")
        // Optional fields are zero or more; escaped spaces in the path are decoded.
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: "5 1 0:5 / / rw - overlay overlay rw,upperdir=/data/my\\040layer,workdir=/w\n") == "/data/my layer")
        // A later mount over `/` hides the overlay; a process of the node has an ext4 root.
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: "5 1 0:5 / / rw - overlay overlay rw,upperdir=/u,workdir=/w\n6 5 253:1 / / rw - ext4 /dev/vda1 rw\n") == nil)
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n") == nil)
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: "5 1 0:5 / / rw - overlay overlay rw,lowerdir=/l\n") == nil)
        #expect(ProcFiles.rootOverlayUpperDirectory(mountinfo: "garbage\n5 1 / / -\n") == nil)
    }
}
