import LoupeCLI

@main
enum LoupeMain {
    static func main() async {
        // Before any other thread exists: settings that apply to every thread.
        LoupeCommand.prepareProcess(arguments: CommandLine.arguments)
        await LoupeCommand.main()
    }
}
