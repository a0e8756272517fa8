import LoupeStorage

extension LoupeCommand {
    /// Runs first in `main`, before any other thread exists.
    ///
    /// `loupe agent` and `loupe gateway` keep every allocation in glibc's main arena. By default
    /// each new thread may get an arena of its own (up to eight per core), and `malloc_trim` gives
    /// back only the main arena's free top: after a burst, another arena kept its free top
    /// resident (about 16 MB of an idle agent's 20 MB of anonymous memory after 1 GB of logs; 4 MB
    /// with one arena, at the same throughput). The cap must be set before the threads that would
    /// make those arenas start.
    public static func prepareProcess(arguments: [String]) {
        guard arguments.count > 1, arguments[1] == "agent" || arguments[1] == "gateway" else { return }
        MemoryRelease.limitArenas(1)
    }
}
