import LoupeCollect
import Testing

@testable import LoupeAgent

/// The pod directory finds pods by uid, address and name as they come and go.
@Suite struct PodDirectoryTests {
    @Test func podsAreFoundByUIDAddressAndNameAsTheyChange() {
        let directory = PodDirectory()
        var web = PodMetadata(namespace: "shop", name: "web", uid: "u1", ip: "10.0.0.1")
        var host = PodMetadata(namespace: "ops", name: "exporter", uid: "u2", ip: "10.0.0.1")
        host.hostNetwork = true
        directory.replace([web, host])
        #expect(directory.pod(ip: "10.0.0.1")?.uid == "u1", "a host-network pod is not found by the node's address")
        #expect(directory.pod(namespace: "ops", name: "exporter")?.uid == "u2" && directory.pod(uid: "u2")?.name == "exporter")
        web.ip = "10.0.0.9"
        directory.put(web)
        #expect(directory.pod(ip: "10.0.0.1") == nil && directory.pod(ip: "10.0.0.9")?.uid == "u1")
        directory.remove(uid: "u1")
        #expect(directory.pod(ip: "10.0.0.9") == nil && directory.pod(namespace: "shop", name: "web") == nil && directory.count == 1)
        // Its last lines, read after the deletion, still find it by uid for a while.
        #expect(directory.pod(uid: "u1")?.name == "web")
        directory.replace([])
        #expect(directory.pod(uid: "u2")?.name == "exporter" && directory.count == 0, "gone from a new list: deleted meanwhile")
        #expect(OTLPRouter.peerIP(grpcPeer: "ipv4:10.1.2.3:50412") == "10.1.2.3")
        #expect(OTLPRouter.peerIP(grpcPeer: "ipv6:[fd00::1]:50412") == "fd00::1")
        #expect(OTLPRouter.peerIP(grpcPeer: "unix:/tmp/socket") == nil)
    }
}
