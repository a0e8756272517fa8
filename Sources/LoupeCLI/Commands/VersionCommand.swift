import ArgumentParser

public enum LoupeVersion {
    public static let current = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version of Loupe.")

    func run() {
        #if os(Linux)
        let platform = "linux"
        #else
        let platform = "darwin"
        #endif
        #if arch(x86_64)
        let architecture = "amd64"
        #else
        let architecture = "arm64"
        #endif
        print("loupe \(LoupeVersion.current) (\(platform)/\(architecture))")
    }
}
